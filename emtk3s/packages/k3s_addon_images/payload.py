"""The shape every Go addon payload package shares (coredns, metrics-server,
local-path-provisioner, traefik, klipper-helm's helm): one component at the tag the K3s tag's
image list names for its image, the image config read from its upstream Dockerfile at that tag,
and two sources — the GitHub archive of the tag (pinned from the git tree at resolve) and the Go
vendor tarball emtk3s makes from it (`emtk3s vendor`). ``go_payload`` returns the package
module's ``COMPONENTS`` and ``PACKAGE``; a payload with more (a pinned entry script, an extra
fact of its tree, a second repository holding its image's Dockerfile) passes ``extra_sources``,
``extra_facts``, ``more_components`` and ``listed``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emtk3s.infra.errors import InputError
from emtk3s.model.package import (
    ComponentDef,
    GenerateContext,
    ListedSource,
    PackageDef,
    ResolveContext,
    SourceRule,
)
from emtk3s.packages.k3s_addon_images import PAYLOADS

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout
    from emtk3s.model.lock import Component


def image_tag(image: str) -> Callable[[ResolveContext], str]:
    """The component's tag: the upstream tag the K3s tag's image list names for ``image``."""

    def tag(ctx: ResolveContext) -> str:
        images = ctx.fact("k3s-images", "images")
        if image not in images:
            raise InputError(f"the K3s tag's image list names no {image} image", "")
        return str(images[image]["upstream_tag"])

    return tag


def dockerfile_facts(
    path: str, extra: Callable[[TagCheckout], dict[str, Any]] | None = None
) -> Callable[[TagCheckout], dict[str, Any]]:
    """The component's facts: the image config of the Dockerfile at ``path`` in its tag (read by
    ``dockerfile.read``) and the path itself, plus what ``extra`` reads from the same tag."""

    def facts(checkout: TagCheckout) -> dict[str, Any]:
        from emtk3s.packages.k3s_addon_images import dockerfile

        text = checkout.read(path).decode("utf-8", "replace")
        out: dict[str, Any] = {
            "image": dockerfile.read(text, f"{checkout.info.tag}:{path}"),
            "dockerfile": path,
        }
        if extra is not None:
            out.update(extra(checkout))
        return out

    return facts


def go_vendor(component: str) -> Callable[[GenerateContext], tuple[Path, str]]:
    """The maker of ``<component>-vendor-<version>.tar.gz`` from the tag's GitHub archive
    ``<component>-<version>.tar.gz`` (the package's first source)."""

    def vendor(ctx: GenerateContext) -> tuple[Path, str]:
        from emtk3s.packages.k3s.vendor import make_vendor

        comp = ctx.components[component]
        version = comp.tag.removeprefix("v")
        name = f"{component}-{version}.tar.gz"
        out = ctx.workdir / f"{component}-vendor-{version}.tar.gz"
        return make_vendor(
            ctx.inputs[name],
            out,
            comp.commit_time or 0,
            ctx.workdir,
            ctx.cache_root,
            name,
            ctx.origin,
        )

    return vendor


def go_sources(component: str, repo: str, archive_key: str) -> tuple[SourceRule, SourceRule]:
    """A Go program's two sources: ``repo``'s GitHub archive of the tag (template key
    ``archive_key``) and the Go vendor tarball emtk3s makes from it (key ``vendor``; pending
    until a networked fetch makes and pins it)."""
    return (
        SourceRule(
            f"{component}-{{version}}.tar.gz",
            "github",
            f"/{repo}/archive/refs/tags/{{tag}}.tar.gz",
            archive_of=component,
            key=archive_key,
        ),
        SourceRule(
            f"{component}-vendor-{{version}}.tar.gz",
            "github",
            "generated:go-mod-vendor:{commit}",
            generate=go_vendor(component),
            may_be_pending=True,
            key="vendor",
        ),
    )


def go_payload(
    *,
    package: str,
    component: str,
    repo: str,
    image: str,
    dockerfile: str | None,
    summary: str,
    archive_key: str,
    extra_sources: tuple[SourceRule, ...] = (),
    extra_facts: Callable[[TagCheckout], dict[str, Any]] | None = None,
    more_components: tuple[ComponentDef, ...] = (),
    listed: Callable[[dict[str, Component]], list[ListedSource]] | None = None,
) -> tuple[tuple[ComponentDef, ...], PackageDef]:
    """``(COMPONENTS, PACKAGE)`` of a Go payload package: ``component`` is ``repo``
    (owner/name on GitHub) at the tag the image list names for ``image``; its facts are the
    Dockerfile at ``dockerfile`` (None: the image's Dockerfile lives elsewhere, e.g. in one of
    ``more_components``) plus ``extra_facts``; its sources are the tag's archive (template key
    ``archive_key``), the vendor tarball (key ``vendor``), then ``extra_sources`` and what
    ``listed`` makes from the components' facts. In the default release when k3s-addon-images
    writes its image (``PAYLOADS``), never on the EMT image: it is a build input of
    k3s-addon-images, whose image carries the archives."""
    facts = dockerfile_facts(dockerfile, extra_facts) if dockerfile else extra_facts
    components = (
        ComponentDef(component, repo, tag=image_tag(image), facts=facts, needs=("k3s-images",)),
        *more_components,
    )
    pkg = PackageDef(
        name=package,
        component=component,
        summary=summary,
        components=tuple(c.name for c in more_components),
        listed=listed,
        # in the default release once k3s-addon-images writes its image (PAYLOADS names it)
        default=image in PAYLOADS,
        on_image=False,
        sources=(*go_sources(component, repo, archive_key), *extra_sources),
    )
    return components, pkg
