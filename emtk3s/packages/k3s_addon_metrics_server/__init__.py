"""metrics-server for K3s' metrics-server image (rancher/mirrored-metrics-server), built in Go
from kubernetes-sigs/metrics-server at the tag the K3s tag's image list names, with a Go vendor
tarball made by emtk3s, as upstream's Makefile builds it (CGO_ENABLED=0, the version stamped
into k8s.io/client-go/pkg/version). Installed under a private prefix."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from emtk3s.infra.errors import InputError
from emtk3s.model.package import (
    ComponentDef,
    GenerateContext,
    PackageDef,
    ResolveContext,
    SourceRule,
)

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout


def _tag(ctx: ResolveContext) -> str:
    images = ctx.fact("k3s-images", "images")
    if "metrics-server" not in images:
        raise InputError("the K3s tag's image list names no metrics-server image", "")
    return str(images["metrics-server"]["upstream_tag"])


def _facts(checkout: TagCheckout) -> dict[str, Any]:
    from emtk3s.packages.k3s_addon_images import dockerfile

    text = checkout.read("Dockerfile").decode("utf-8", "replace")
    return {
        "image": dockerfile.read(text, f"{checkout.info.tag}:Dockerfile"),
        "dockerfile": "Dockerfile",
    }


def _vendor(ctx: GenerateContext) -> tuple[Path, str]:
    from emtk3s.packages.k3s.vendor import make_vendor

    comp = ctx.components["metrics-server"]
    version = comp.tag.removeprefix("v")
    name = f"metrics-server-{version}.tar.gz"
    out = ctx.workdir / f"metrics-server-vendor-{version}.tar.gz"
    return make_vendor(
        ctx.inputs[name], out, comp.commit_time or 0, ctx.workdir, ctx.cache_root, name, ctx.origin
    )


COMPONENTS = (
    ComponentDef(
        "metrics-server",
        "kubernetes-sigs/metrics-server",
        tag=_tag,
        facts=_facts,
        needs=("k3s-images",),
    ),
)

PACKAGE = PackageDef(
    name="k3s-addon-metrics-server",
    component="metrics-server",
    summary="metrics-server for the K3s metrics-server image, built from source",
    on_image=False,  # a build input of k3s-addon-images; the image carries the archives
    sources=(
        SourceRule(
            "metrics-server-{version}.tar.gz",
            "github",
            "/kubernetes-sigs/metrics-server/archive/refs/tags/{tag}.tar.gz",
            archive_of="metrics-server",
            key="metrics_server",
        ),
        SourceRule(
            "metrics-server-vendor-{version}.tar.gz",
            "github",
            "generated:go-mod-vendor:{commit}",
            generate=_vendor,
            may_be_pending=True,
            key="vendor",
        ),
    ),
)
