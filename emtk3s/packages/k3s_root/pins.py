"""Shared rule of fuse-overlayfs and slirp4netns: the two k3s-root binaries EMT builds as RPMs of
their own, at the versions k3s-root builds (its buildroot pins), overridable in [overrides]."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from emtk3s.infra.errors import InputError
from emtk3s.model.package import ResolveContext
from emtk3s.packages.k3s_root.components import k3s_root_pin

if TYPE_CHECKING:
    from emtk3s.model.lock import Component


def pinned_by_k3s_root(pkg: str) -> Callable[[ResolveContext], str]:
    def tag(ctx: ResolveContext) -> str:
        version = k3s_root_pin(ctx, pkg)
        if not version:
            raise InputError(
                f"k3s-root {ctx.components['k3s-root'].tag} pins no {pkg} version",
                f'set [overrides] {pkg} = "vX.Y" in release.toml',
            )
        return f"v{version}"

    return tag


def k3s_root_context(comps: Mapping[str, Component]) -> dict[str, Any]:
    """Template values of the packages k3s-root's tree is built for or with: ``k3s_root.tag``
    and ``k3s_root.buildroot`` ("" when the lock has no such component)."""
    root, br = comps.get("k3s-root"), comps.get("buildroot")
    return {"k3s_root": {"tag": root.tag if root else "", "buildroot": br.tag if br else ""}}
