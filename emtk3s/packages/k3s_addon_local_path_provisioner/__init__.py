"""local-path-provisioner for K3s' local-storage image (rancher/local-path-provisioner), built in
Go from rancher/local-path-provisioner at the tag the K3s tag's image list names, with a Go
vendor tarball made by emtk3s, as its scripts/build builds it (CGO_ENABLED=0, ``-X
main.VERSION=<tag> -extldflags -static -s -w``). Its upstream image is Alpine; ours is k3s-root's
busybox userland (k3s-addon-images). Installed under a private prefix."""

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
    if "local-path-provisioner" not in images:
        raise InputError("the K3s tag's image list names no local-path-provisioner image", "")
    return str(images["local-path-provisioner"]["upstream_tag"])


def _facts(checkout: TagCheckout) -> dict[str, Any]:
    from emtk3s.packages.k3s_addon_images import dockerfile

    text = checkout.read("package/Dockerfile").decode("utf-8", "replace")
    return {
        "image": dockerfile.read(text, f"{checkout.info.tag}:package/Dockerfile"),
        "dockerfile": "package/Dockerfile",
    }


def _vendor(ctx: GenerateContext) -> tuple[Path, str]:
    from emtk3s.packages.k3s.vendor import make_vendor

    comp = ctx.components["local-path-provisioner"]
    version = comp.tag.removeprefix("v")
    name = f"local-path-provisioner-{version}.tar.gz"
    out = ctx.workdir / f"local-path-provisioner-vendor-{version}.tar.gz"
    return make_vendor(
        ctx.inputs[name], out, comp.commit_time or 0, ctx.workdir, ctx.cache_root, name, ctx.origin
    )


COMPONENTS = (
    ComponentDef(
        "local-path-provisioner",
        "rancher/local-path-provisioner",
        tag=_tag,
        facts=_facts,
        needs=("k3s-images",),
    ),
)

PACKAGE = PackageDef(
    name="k3s-addon-local-path-provisioner",
    component="local-path-provisioner",
    summary="local-path-provisioner for the K3s local-storage image, built from source",
    on_image=False,  # a build input of k3s-addon-images; the image carries the archives
    sources=(
        SourceRule(
            "local-path-provisioner-{version}.tar.gz",
            "github",
            "/rancher/local-path-provisioner/archive/refs/tags/{tag}.tar.gz",
            archive_of="local-path-provisioner",
            key="lpp",
        ),
        SourceRule(
            "local-path-provisioner-vendor-{version}.tar.gz",
            "github",
            "generated:go-mod-vendor:{commit}",
            generate=_vendor,
            may_be_pending=True,
            key="vendor",
        ),
    ),
)
