"""Each package described once: its upstream component, its sources and its template.

Every stage (resolve, fetch, render, srpm, build) reads these descriptions; none of them
knows a package by name. Add a package by adding a :class:`PackageDef` and a template dir.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError


@dataclass(frozen=True)
class ComponentDef:
    name: str
    repo: str  # owner/name below the "github" mirror


@dataclass(frozen=True)
class SourceRule:
    """One Source. ``name`` and ``path`` are str.format templates over {tag} {version} {commit}.

    ``git_path``: the file is a blob of the component's tree; resolve hashes it from git, so the
    source is pinned before any HTTPS download (and fetch then cross-checks the two channels).
    """

    name: str
    mirror: str
    path: str
    git_path: str | None = None


@dataclass(frozen=True)
class PackageDef:
    name: str
    component: str
    summary: str
    sources: tuple[SourceRule, ...]
    template: str = ""  # directory below templates/; defaults to the package name

    @property
    def template_dir(self) -> str:
        return self.template or self.name


COMPONENTS: dict[str, ComponentDef] = {
    c.name: c
    for c in (
        ComponentDef("k3s", "k3s-io/k3s"),
        ComponentDef("k3s-root", "k3s-io/k3s-root"),
    )
}

PACKAGES: dict[str, PackageDef] = {
    p.name: p
    for p in (
        PackageDef(
            name="k3s-iptables-helpers",
            component="k3s-root",
            summary="Iptables back-end detection helpers from k3s-root",
            sources=(
                SourceRule(
                    "iptables-detect.sh",
                    "raw",
                    "/k3s-io/k3s-root/{tag}/iptables-detect/iptables-detect.sh",
                    git_path="iptables-detect/iptables-detect.sh",
                ),
                SourceRule(
                    "xtables-set-mode.sh",
                    "raw",
                    "/k3s-io/k3s-root/{tag}/iptables-detect/xtables-set-mode.sh",
                    git_path="iptables-detect/xtables-set-mode.sh",
                ),
                SourceRule(
                    "README.md",
                    "raw",
                    "/k3s-io/k3s-root/{tag}/iptables-detect/README.md",
                    git_path="iptables-detect/README.md",
                ),
                SourceRule(
                    "LICENSE",
                    "raw",
                    "/k3s-io/k3s-root/{tag}/LICENSE",
                    git_path="LICENSE",
                ),
            ),
        ),
    )
}


def select(names: tuple[str, ...] | list[str]) -> list[PackageDef]:
    """The named packages (all when ``names`` is empty), in a stable order."""
    if not names:
        return list(PACKAGES.values())
    out = []
    for n in names:
        if n not in PACKAGES:
            raise InputError(f"unknown package {n!r}", f"choose from {', '.join(PACKAGES)}")
        out.append(PACKAGES[n])
    return out
