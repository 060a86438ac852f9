"""klipper-lb's entry script for K3s' service load balancer image (rancher/klipper-lb), from
k3s-io/klipper-lb at the tag the K3s tag's image list names. Its image gets, instead of
upstream's Alpine packages (iptables, ip6tables, nftables, iptables-legacy), k3s-root's
busybox and xtables (k3s-addon-images)."""

from __future__ import annotations

from emtk3s.model.package import ComponentDef, PackageDef, SourceRule
from emtk3s.packages.k3s_addon_images.payload import dockerfile_facts, image_tag

COMPONENTS = (
    ComponentDef(
        "klipper-lb",
        "k3s-io/klipper-lb",
        tag=image_tag("klipper-lb"),
        facts=dockerfile_facts("Dockerfile"),
        needs=("k3s-images",),
    ),
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
