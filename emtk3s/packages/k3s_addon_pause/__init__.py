"""The pause program of K3s' pause image (rancher/mirrored-pause), built in C from kubernetes'
``build/pause`` at the Kubernetes tag whose ``build/pause/Makefile`` releases that pause version
(checked at resolve), as its Makefile builds it: ``gcc -Os -Wall -Werror -static
-DVERSION=v<tag>``. Installed under a private prefix; k3s-addon-images puts it in the image."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from emtk3s.infra.errors import InputError
from emtk3s.model.package import ComponentDef, PackageDef, ResolveContext, SourceRule

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout

#: pause version -> the first Kubernetes tag whose build/pause/Makefile has ``TAG ?= <version>``
#: (resolve reads the Makefile at that tag and refuses a mismatch)
PAUSE_RELEASES = {"3.6": "v1.23.0"}
_MAKEFILE_TAG = re.compile(r"^TAG\s*\?=\s*(?P<tag>[0-9][0-9A-Za-z.-]*)\s*$", re.M)


def _tag(ctx: ResolveContext) -> str:
    pause = ctx.fact("k3s-images", "images").get("pause")
    if pause is None:
        raise InputError("the K3s tag's image list names no pause image", "")
    tag = PAUSE_RELEASES.get(pause["tag"])
    if tag is None:
        raise InputError(
            f"pause {pause['tag']}: no Kubernetes tag known to release it",
            "add it to PAUSE_RELEASES (emtk3s/packages/k3s_addon_pause) or set [overrides] kubernetes-pause",
        )
    return tag


def _facts(checkout: TagCheckout) -> dict[str, Any]:
    from emtk3s.packages.k3s_addon_images import dockerfile

    where = f"{checkout.info.tag}:build/pause"
    makefile = checkout.read("build/pause/Makefile").decode("utf-8", "replace")
    m = _MAKEFILE_TAG.search(makefile)
    if not m:
        raise InputError(
            f"{where}/Makefile: no TAG ?= line", "this Kubernetes tag has no pause release"
        )
    text = checkout.read("build/pause/Dockerfile").decode("utf-8", "replace")
    return {
        "pause_tag": m.group("tag"),
        "image": dockerfile.read(text, f"{where}/Dockerfile"),
        "dockerfile": "build/pause/Dockerfile",
    }


COMPONENTS = (
    ComponentDef(
        "kubernetes-pause", "kubernetes/kubernetes", tag=_tag, facts=_facts, needs=("k3s-images",)
    ),
)

PACKAGE = PackageDef(
    name="k3s-addon-pause",
    component="kubernetes-pause",
    components=("k3s-images",),
    summary="The pause program of the K3s pause image, built from source",
    on_image=False,  # a build input of k3s-addon-images; the image carries the archives
    sources=(
        SourceRule(
            "k3s-addon-pause-{version}-pause.c",
            "raw",
            "/kubernetes/kubernetes/{tag}/build/pause/linux/pause.c",
            git_path="build/pause/linux/pause.c",
            key="pause_c",
        ),
        SourceRule(
            "k3s-addon-pause-{version}-LICENSE",
            "raw",
            "/kubernetes/kubernetes/{tag}/LICENSE",
            git_path="LICENSE",
            key="license",
        ),
    ),
)
