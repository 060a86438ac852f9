"""klipper-lb's entry script for K3s' service load balancer image (rancher/klipper-lb), from
k3s-io/klipper-lb at the tag the K3s tag's image list names. Its image gets, instead of
upstream's Alpine packages (iptables, ip6tables, nftables, iptables-legacy), k3s-root's
busybox and xtables (k3s-addon-images)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emtk3s.infra.errors import InputError
from emtk3s.model.package import ComponentDef, PackageDef, ResolveContext, SourceRule

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout


def _tag(ctx: ResolveContext) -> str:
    images = ctx.fact("k3s-images", "images")
    if "klipper-lb" not in images:
        raise InputError("the K3s tag's image list names no klipper-lb image", "")
    return str(images["klipper-lb"]["upstream_tag"])


def _facts(checkout: TagCheckout) -> dict[str, Any]:
    from emtk3s.packages.k3s_addon_images import dockerfile

    text = checkout.read("Dockerfile").decode("utf-8", "replace")
    return {
        "image": dockerfile.read(text, f"{checkout.info.tag}:Dockerfile"),
        "dockerfile": "Dockerfile",
    }


COMPONENTS = (
    ComponentDef("klipper-lb", "k3s-io/klipper-lb", tag=_tag, facts=_facts, needs=("k3s-images",)),
)

PACKAGE = PackageDef(
    name="k3s-addon-klipper-lb",
    component="klipper-lb",
    summary="klipper-lb's entry script for the K3s service load balancer image",
    on_image=False,  # a build input of k3s-addon-images; the image carries the archives
    sources=(
        SourceRule(
            "k3s-addon-klipper-lb-{version}-entry",
            "raw",
            "/k3s-io/klipper-lb/{tag}/entry",
            git_path="entry",
            key="entry",
        ),
        SourceRule(
            "k3s-addon-klipper-lb-{version}-LICENSE",
            "raw",
            "/k3s-io/klipper-lb/{tag}/LICENSE",
            git_path="LICENSE",
            key="license",
        ),
    ),
)
