"""Shared rule of fuse-overlayfs and slirp4netns: the two k3s-root binaries EMT builds as RPMs of
their own, at the versions k3s-root builds (its buildroot pins), overridable in [overrides]."""

from __future__ import annotations

from collections.abc import Callable

from emtk3s.infra.errors import InputError
from emtk3s.model.package import ResolveContext
from emtk3s.packages.k3s_root.components import k3s_root_pin


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
