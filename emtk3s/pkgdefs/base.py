"""The two components everything starts from: the K3s tag and the k3s-root tag it pins."""

from __future__ import annotations

from ..packages import ComponentDef, ResolveContext
from ..upstream import k3s as k3s_up


def _k3s_tag(ctx: ResolveContext) -> str:
    return ctx.release.k3s.tag


def _k3s_root_tag(ctx: ResolveContext) -> str:
    return str(ctx.fact("k3s", "VERSION_ROOT"))


COMPONENTS = (
    ComponentDef("k3s", "k3s-io/k3s", tag=_k3s_tag, facts=k3s_up.read_facts),
    ComponentDef("k3s-root", "k3s-io/k3s-root", tag=_k3s_root_tag, needs=("k3s",)),
)
