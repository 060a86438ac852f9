"""K3s itself: the tag's source, a Go vendor tarball made by emtk3s, and the sources of what its
build bundles (runc, k3s-io/containerd, rancher/plugins, flannel's CNI plugin, the charts), all at
the versions the tag's own files name."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from emtk3s.model.package import (
    ComponentDef,
    GenerateContext,
    PackageDef,
    ResolveContext,
    SourceRule,
)
from emtk3s.packages.k3s_root.pins import k3s_root_context

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout


def _k3s_tag(ctx: ResolveContext) -> str:
    return ctx.release.k3s.tag


def _read_facts(checkout: TagCheckout) -> dict[str, Any]:
    # the readers (and their patterns) load when resolve reads a tag, not on every start-up
    from emtk3s.packages.k3s import upstream

    return upstream.read_facts(checkout)


#: the K3s tag everything starts from (release.toml's k3s tag)
COMPONENTS = (ComponentDef("k3s", "k3s-io/k3s", tag=_k3s_tag, facts=_read_facts, always=True),)


#: the clones the spec's %prep lays out (local file name prefix, the VERSION_* that names it,
#: the template's key)
CLONED = (
    ("runc", "VERSION_RUNC", "runc"),
    ("containerd", "VERSION_CONTAINERD", "containerd"),
    ("rancher-plugins", "VERSION_CNIPLUGINS", "rancher_plugins"),
    ("flannel", "VERSION_FLANNEL_PLUGIN", "flannel"),
)


def _vendor(ctx: GenerateContext) -> tuple[Path, str]:
    from emtk3s.packages.k3s.vendor import make_vendor

    comp = ctx.components["k3s"]
    version = comp.tag.removeprefix("v")
    name = f"k3s-{version}.tar.gz"
    out = ctx.workdir / f"k3s-vendor-{version}.tar.gz"
    return make_vendor(
        ctx.inputs[name], out, comp.commit_time or 0, ctx.workdir, ctx.cache_root, name, ctx.origin
    )


PACKAGE = PackageDef(
    name="k3s",
    component="k3s",
    components=("k3s-root",),  # the k3s-root tag names the k3s-root-dist it builds with
    summary="Lightweight Kubernetes, built from source for the Edge Microvisor Toolkit",
    context=k3s_root_context,  # the k3s-root tag names the k3s-root-dist it builds with
    on_image=True,
    chain_deps={"k3s-root-dist": ("k3s_root_dir", "usr/share/k3s-root")},
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
            may_be_pending=True,
            key="vendor",
        ),
        # what scripts/download and scripts/build clone, from the repositories and at the
        # versions the tag's own scripts name (upstream.read_facts: facts[clones])
        *(
            SourceRule(
                f"{local}-{{facts[clones][{var}][version]}}.tar.gz",
                "github",
                f"/{{facts[clones][{var}][repo]}}/archive/refs/tags/{{facts[clones][{var}][version]}}.tar.gz",
                key=key,
            )
            for local, var, key in CLONED
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
