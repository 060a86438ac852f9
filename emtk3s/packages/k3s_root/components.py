"""k3s-root's components: the k3s-root tag the K3s tag pins (VERSION_ROOT), and the buildroot tag
that k3s-root pins; buildroot's facts are read with k3s-root's tree applied (show-info)."""

from __future__ import annotations

from emtk3s.model.package import ComponentDef, ResolveContext
from emtk3s.packages.k3s_root import buildroot as buildroot_up
from emtk3s.packages.k3s_root import upstream as k3s_root_up


def _k3s_root_tag(ctx: ResolveContext) -> str:
    return str(ctx.fact("k3s", "VERSION_ROOT"))


def _buildroot_tag(ctx: ResolveContext) -> str:
    return str(ctx.fact("k3s-root", "buildroot_version"))


def k3s_root_pin(ctx: ResolveContext, pkg: str) -> str:
    """The version k3s-root builds of a buildroot package: its own overlay wins over buildroot."""
    overlay = ctx.components["k3s-root"].facts.get("overlay_versions", {})
    if pkg in overlay:
        return str(overlay[pkg])
    return (
        str(ctx.fact("buildroot", "packages")[pkg])
        if pkg in ctx.fact("buildroot", "packages")
        else ""
    )


COMPONENTS = (
    ComponentDef(
        "k3s-root",
        "k3s-io/k3s-root",
        tag=_k3s_root_tag,
        facts=k3s_root_up.read_facts,
        needs=("k3s",),
        release_key="k3s_root",  # release.toml: k3s_root = "v0.14.1"
        pinned_by=("k3s", "VERSION_ROOT"),
    ),
    ComponentDef(
        "buildroot",
        "buildroot/buildroot",
        tag=_buildroot_tag,
        facts=buildroot_up.read_facts,
        needs=("k3s-root",),
        pinned_by=("k3s-root", "buildroot_version"),
        derived=buildroot_up.derived,
    ),
)
