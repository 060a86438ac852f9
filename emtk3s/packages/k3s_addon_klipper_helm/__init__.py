"""klipper-helm's entry script for K3s' helm-controller job image (rancher/klipper-helm), from
k3s-io/klipper-helm at the tag the K3s tag's image list names (the job image, VERSION_HELM_JOB).

Its Dockerfile at that tag names what the image holds besides the entry: a Helm release
(downloaded prebuilt from get.helm.sh upstream; built from source here by k3s-addon-helm at the
same tag), and two Helm plugins built in Go (helm-set-status, helm-mapkubeapis: built here by
k3s-addon-helm-set-status and k3s-addon-helm-mapkubeapis at the tags it names). resolve reads
those tags from the Dockerfile (``helm_facts``); an era that gets Helm another way (klipper-helm
v0.13 clones and builds Helm 4 with go.mod overrides) is an error naming the file.

Upstream's final stage is Alpine with ``apk add ca-certificates jq bash``; the image gets
k3s-root's busybox, and bash and jq from EMT's own RPMs (k3s-addon-images)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from emtk3s.infra.errors import InputError
from emtk3s.model.package import ComponentDef, PackageDef, ResolveContext, SourceRule
from emtk3s.packages.k3s_addon_images import PAYLOADS
from emtk3s.packages.k3s_addon_images.payload import go_sources, image_tag

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout

#: the Dockerfile's path: package/Dockerfile up to v0.9.4, Dockerfile from v0.9.5 on
DOCKERFILES = ("Dockerfile", "package/Dockerfile")
#: the Helm release the extract stage downloads (curl .../helm-v3.16.4-linux-${ARCH}.tar.gz)
_HELM = re.compile(r"https://get\.helm\.sh/helm-(?P<tag>v3\.[0-9]+\.[0-9]+)-linux-")
#: the plugins the plugins stage builds from their GitHub tag archives
_PLUGIN = re.compile(
    r"https://github\.com/(?P<repo>[A-Za-z0-9-]+/helm-(?:set-status|mapkubeapis))"
    r"/archive/refs/tags/(?P<tag>v[0-9]+\.[0-9]+\.[0-9]+[A-Za-z0-9.-]*)\.tar\.gz"
)
PLUGIN_FACTS = {
    "k3s-io/helm-set-status": "set_status_tag",
    "helm/helm-mapkubeapis": "mapkubeapis_tag",
}


def helm_facts(text: str, where: str) -> dict[str, str]:
    """``helm_tag``, ``set_status_tag``, ``mapkubeapis_tag`` of a klipper-helm Dockerfile."""
    helm = {m.group("tag") for m in _HELM.finditer(text)}
    if len(helm) != 1:
        raise InputError(
            f"{where}: names {len(helm)} Helm releases from get.helm.sh (expected one)",
            "this klipper-helm era gets Helm another way (v0.13 builds Helm 4 from a clone); "
            "emtk3s does not follow it yet: report it",
        )
    out = {"helm_tag": helm.pop()}
    for m in _PLUGIN.finditer(text):
        if m.group("repo") not in PLUGIN_FACTS:  # k3s-io's fork of mapkubeapis (v0.8 eras)
            raise InputError(
                f"{where}: builds {m.group('repo')} {m.group('tag')}; emtk3s builds "
                f"{' and '.join(sorted(PLUGIN_FACTS))} only",
                "this klipper-helm era is not followed yet: report it",
            )
        key = PLUGIN_FACTS[m.group("repo")]
        if out.get(key, m.group("tag")) != m.group("tag"):
            raise InputError(f"{where}: names two tags of {m.group('repo')}", "report it")
        out[key] = m.group("tag")
    for repo, key in sorted(PLUGIN_FACTS.items()):
        if key not in out:
            raise InputError(f"{where}: builds no {repo} plugin from a tag archive", "report it")
    return out


def _facts(checkout: TagCheckout) -> dict[str, Any]:
    from emtk3s.packages.k3s_addon_images import dockerfile

    path = next((p for p in DOCKERFILES if checkout.exists(p)), None)
    if path is None:
        raise InputError(
            f"k3s-io/klipper-helm {checkout.info.tag}: no {' or '.join(DOCKERFILES)}",
            "this klipper-helm era is not understood; report it",
        )
    text = checkout.read(path).decode("utf-8", "replace")
    where = f"{checkout.info.tag}:{path}"
    return {"image": dockerfile.read(text, where), "dockerfile": path, **helm_facts(text, where)}


COMPONENTS = (
    ComponentDef(
        "klipper-helm",
        "k3s-io/klipper-helm",
        tag=image_tag("klipper-helm"),
        facts=_facts,
        needs=("k3s-images",),
    ),
)

PACKAGE = PackageDef(
    name="k3s-addon-klipper-helm",
    component="klipper-helm",
    summary="klipper-helm's entry script for the K3s helm-controller job image",
    default="klipper-helm" in PAYLOADS,  # with k3s-addon-images, once it writes the image
    on_image=False,  # a build input of k3s-addon-images; the image carries the archives
    sources=(
        SourceRule(
            "k3s-addon-klipper-helm-{version}-entry",
            "raw",
            "/k3s-io/klipper-helm/{tag}/entry",
            git_path="entry",
            key="entry",
        ),
        SourceRule(
            "k3s-addon-klipper-helm-{version}-LICENSE",
            "raw",
            "/k3s-io/klipper-helm/{tag}/LICENSE",
            git_path="LICENSE",
            key="license",
        ),
    ),
)


# --- the Go payloads klipper-helm's Dockerfile names (k3s-addon-helm, -helm-set-status,
# -helm-mapkubeapis): each one component at the tag resolve read from that Dockerfile (not
# from the image list, so not the factory's go_payload; its vendor maker is used)


def tag_from(fact: str) -> Any:
    """A component's tag: the klipper-helm Dockerfile's ``fact`` (helm_tag, ...)."""

    def tag(ctx: ResolveContext) -> str:
        return str(ctx.fact("klipper-helm", fact))

    return tag


def go_package(
    *, package: str, component: str, repo: str, fact: str, summary: str, facts: Any = None
) -> tuple[tuple[ComponentDef, ...], PackageDef]:
    """``(COMPONENTS, PACKAGE)``: ``repo`` at the tag klipper-helm's Dockerfile names
    (``fact``), its GitHub tag archive (key ``archive``) and its Go vendor tarball (``vendor``).
    In the default release with k3s-addon-images, never on the image: a build input of it."""
    comps = (
        ComponentDef(
            component,
            repo,
            tag=tag_from(fact),
            facts=facts,
            needs=("klipper-helm",),
            pinned_by=("klipper-helm", fact),
        ),
    )
    pkg = PackageDef(
        name=package,
        component=component,
        summary=summary,
        default="klipper-helm" in PAYLOADS,  # with k3s-addon-images, once it writes the image
        on_image=False,
        sources=go_sources(component, repo, "archive"),  # the factory's archive + vendor
    )
    return comps, pkg
