"""CoreDNS for K3s' coredns image (rancher/mirrored-coredns-coredns), built in Go from
coredns/coredns at the tag the K3s tag's image list names, with a Go vendor tarball made by
emtk3s (`emtk3s vendor`), as upstream's Makefile builds it (CGO_ENABLED=0,
``-ldflags "-s -w -X .../coremain.GitCommit=..."``). Installed under a private prefix, so it
never clashes with EMT's own coredns package."""

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
    if "coredns" not in images:
        raise InputError("the K3s tag's image list names no coredns image", "")
    return str(images["coredns"]["upstream_tag"])


def _facts(checkout: TagCheckout) -> dict[str, Any]:
    from emtk3s.packages.k3s_addon_images import dockerfile

    text = checkout.read("Dockerfile").decode("utf-8", "replace")
    return {
        "image": dockerfile.read(text, f"{checkout.info.tag}:Dockerfile"),
        "dockerfile": "Dockerfile",
    }


def _vendor(ctx: GenerateContext) -> tuple[Path, str]:
    from emtk3s.packages.k3s.vendor import make_vendor

    comp = ctx.components["coredns"]
    version = comp.tag.removeprefix("v")
    name = f"coredns-{version}.tar.gz"
    out = ctx.workdir / f"coredns-vendor-{version}.tar.gz"
    return make_vendor(
        ctx.inputs[name], out, comp.commit_time or 0, ctx.workdir, ctx.cache_root, name, ctx.origin
    )


COMPONENTS = (
    ComponentDef("coredns", "coredns/coredns", tag=_tag, facts=_facts, needs=("k3s-images",)),
)

PACKAGE = PackageDef(
    name="k3s-addon-coredns",
    component="coredns",
    summary="CoreDNS for the K3s coredns image, built from source",
    on_image=False,  # a build input of k3s-addon-images; the image carries the archives
    sources=(
        SourceRule(
            "coredns-{version}.tar.gz",
            "github",
            "/coredns/coredns/archive/refs/tags/{tag}.tar.gz",
            archive_of="coredns",
            key="coredns",
        ),
        SourceRule(
            "coredns-vendor-{version}.tar.gz",
            "github",
            "generated:go-mod-vendor:{commit}",
            generate=_vendor,
            may_be_pending=True,
            key="vendor",
        ),
    ),
)
