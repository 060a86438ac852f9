"""K3s itself: the tag's source, a Go vendor tarball made by emtk3s, and the sources of what its
build bundles (runc, k3s-io/containerd, rancher/plugins, flannel's CNI plugin, the charts), all at
the versions the tag's own files name."""

from __future__ import annotations

from pathlib import Path

from emtk3s.model.package import (
    ComponentDef,
    GenerateContext,
    PackageDef,
    ResolveContext,
    SourceRule,
)
from emtk3s.packages.k3s import upstream as k3s_up
from emtk3s.packages.k3s_root.pins import k3s_root_context


def _k3s_tag(ctx: ResolveContext) -> str:
    return ctx.release.k3s.tag


#: the K3s tag everything starts from (release.toml's k3s tag)
COMPONENTS = (
    ComponentDef("k3s", "k3s-io/k3s", tag=_k3s_tag, facts=k3s_up.read_facts, always=True),
)


def _vendor(ctx: GenerateContext) -> Path:
    from emtk3s.packages.k3s.vendor import make_vendor

    comp = ctx.components["k3s"]
    version = comp.tag.removeprefix("v")
    name = f"k3s-{version}.tar.gz"
    out = ctx.workdir / f"k3s-vendor-{version}.tar.gz"
    return make_vendor(
        ctx.inputs[name], out, comp.commit_time or 0, ctx.workdir, ctx.cache_root, name
    )


PACKAGE = PackageDef(
    name="k3s",
    component="k3s",
    components=("k3s-root",),  # the k3s-root tag names the k3s-root-dist it builds with
    summary="Lightweight Kubernetes, built from source for the Edge Microvisor Toolkit",
    context=k3s_root_context,  # the k3s-root tag names the k3s-root-dist it builds with
    on_image=True,
    sources=(
        SourceRule(
            "k3s-{version}.tar.gz",
            "github",
            "/k3s-io/k3s/archive/refs/tags/{tag}.tar.gz",
            archive_of="k3s",
            key="k3s",
        ),
        SourceRule(
            "k3s-vendor-{version}.tar.gz",
            "github",
            "generated:go-mod-vendor:{commit}",
            generate=_vendor,
            key="vendor",
        ),
        # what scripts/download clones and scripts/build compiles, at the versions go.mod and
        # scripts/version.sh name
        SourceRule(
            "runc-{facts[modules][runc][version]}.tar.gz",
            "github",
            "/opencontainers/runc/archive/refs/tags/{facts[modules][runc][version]}.tar.gz",
            key="runc",
        ),
        SourceRule(
            "containerd-{facts[modules][containerd][version]}.tar.gz",
            "github",
            "/k3s-io/containerd/archive/refs/tags/{facts[modules][containerd][version]}.tar.gz",
            key="containerd",
        ),
        SourceRule(
            "rancher-plugins-{facts[VERSION_CNIPLUGINS]}.tar.gz",
            "github",
            "/rancher/plugins/archive/refs/tags/{facts[VERSION_CNIPLUGINS]}.tar.gz",
            key="rancher_plugins",
        ),
        SourceRule(
            "flannel-{facts[VERSION_FLANNEL_PLUGIN]}.tar.gz",
            "github",
            "/flannel-io/cni-plugin/archive/refs/tags/{facts[VERSION_FLANNEL_PLUGIN]}.tar.gz",
            key="flannel",
        ),
        SourceRule(
            "traefik-crd-{facts[charts][traefik-crd]}.tgz",
            "k3s_charts",
            "/assets/traefik-crd/traefik-crd-{facts[charts][traefik-crd]}.tgz",
            key="traefik_crd",
        ),
        SourceRule(
            "traefik-{facts[charts][traefik]}.tgz",
            "k3s_charts",
            "/assets/traefik/traefik-{facts[charts][traefik]}.tgz",
            key="traefik",
        ),
        # opt-in (release.toml airgap_images = true): upstream's prebuilt image archives, not
        # built from source — see docs/packages/k3s.md for the compliance trade-off
        *(
            SourceRule(
                f"k3s-airgap-images-{goarch}.tar.zst",
                "github",
                f"/k3s-io/k3s/releases/download/{{tag}}/k3s-airgap-images-{goarch}.tar.zst",
                when=lambda rel: rel.airgap_images,
                key=f"airgap_{goarch}",
                airgap=True,
                arch=goarch,
            )
            for goarch in ("amd64", "arm64")
        ),
    ),
)
