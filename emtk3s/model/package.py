"""Each package described once: its upstream component, its sources and its template.

Every stage (resolve, fetch, render, srpm, build) reads these descriptions; none of them
knows a package by name. A package is one folder ``emtk3s/packages/<name>/`` whose
``__init__.py`` defines ``COMPONENTS`` (upstream repositories it needs, optional) and ``PACKAGE``
(a :class:`PackageDef`); beside it live its upstream readers, its source makers and
``templates/`` holding ``<name>.spec.j2`` and any ``*.patch`` (see docs/adding-a-package.md).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emtk3s.infra.errors import InputError

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout
    from emtk3s.model.lock import Component
    from emtk3s.model.release import Release


@dataclass(frozen=True)
class ResolveContext:
    """What a component's tag rule sees: the release and the components resolved before it."""

    release: Release
    components: dict[str, Component]

    def fact(self, component: str, name: str) -> Any:
        comp = self.components[component]
        if name not in comp.facts:
            raise InputError(
                f"{comp.repo} {comp.tag}: no {name} found in its files",
                f"set [overrides] in release.toml for the component that needs {name}",
            )
        return comp.facts[name]


@dataclass(frozen=True)
class ComponentDef:
    """An upstream repository. ``tag`` picks its tag (release.toml [overrides] always win);
    ``facts`` reads what later components and templates need from the tag's own files."""

    name: str
    repo: str  # owner/name below the "github" mirror
    tag: Callable[[ResolveContext], str]
    facts: Callable[[TagCheckout], dict[str, Any]] | None = None
    needs: tuple[str, ...] = ()  # components whose facts ``tag`` reads
    always: bool = False  # in every lock, whichever packages are selected (the K3s tag itself)
    release_key: str | None = None  # a [release] key of release.toml that pins this tag
    #: (component, fact) the tag is read from: an [overrides] tag is written back there, so
    #: that every value derived from the fact (source names, paths, hashes) follows it
    pinned_by: tuple[str, str] | None = None


@dataclass(frozen=True)
class GenerateContext:
    """What a generated source's maker gets: the release, the lock's components, the package's
    other sources already fetched (local name -> verified cache path) and a scratch directory."""

    release: Release
    components: Mapping[str, Component]
    inputs: dict[str, Path]
    workdir: Path
    cache_root: Path


@dataclass(frozen=True)
class SourceRule:
    """One Source. ``name`` and ``path`` are str.format templates over {tag} {version} {commit}.

    ``git_path``: the file is a blob of the component's tree; resolve hashes it from git, so the
    source is pinned before any HTTPS download (and fetch then cross-checks the two channels).

    ``generate``: the file is made by emtk3s (a Go vendor tarball, a recipe's downloads) from the
    package's other sources; fetch runs the maker after the downloads, stores the result in the
    cache and pins its sha256. The maker must be deterministic: with the lock pinned, a different
    result is an integrity error. ``path`` is then only a label ("generated:<what>").
    """

    name: str
    mirror: str
    path: str
    git_path: str | None = None
    generate: Callable[[GenerateContext], Path] | None = None
    when: Callable[[Release], bool] | None = None  # an opt-in source (e.g. airgap images)
    # the GitHub archive of this component's tag: resolve computes its sha256 from the git tree
    # (`git archive | gzip -n`, byte-identical to what GitHub serves), pinning it before download
    archive_of: str | None = None
    # the name the template uses for it: ``%{SOURCE{{ src.<key>.index }}}`` (so a spec never
    # depends on the order of the tuple); "" for a source the template only loops over
    key: str = ""
    # an upstream prebuilt airgap image archive (opt-in subpackage, not built from source)
    airgap: bool = False
    arch: str = ""  # the architecture the file is for, in its upstream's naming ("" = any)


@dataclass(frozen=True)
class Bundled:
    """One binary in a package's tree that comes from another project."""

    path: str  # in the tree, e.g. bin/aux/nft
    project: str  # the upstream project (as the bundling recipe names it)
    kind: str  # direct | link


@dataclass(frozen=True)
class Bundle:
    """What a package's tree bundles from other projects (for ``emtk3s root-diff``)."""

    key: str  # the report's name for the bundling package (JSON keys ``<key>``, ``<key>_version``)
    binaries: tuple[Bundled, ...]
    emt_names: Mapping[str, str]  # project -> EMT / Azure Linux spec name, where they differ
    versions: Callable[[Mapping[str, Component]], dict[str, str]]  # project -> version bundled
    header: Callable[[Mapping[str, Component]], dict[str, str | None]]  # the report's header
    title: str  # str.format over ``header``


@dataclass(frozen=True)
class PackageDef:
    name: str
    component: str
    summary: str
    sources: tuple[SourceRule, ...]
    components: tuple[str, ...] = ()  # further components whose facts the template reads
    home: Path | None = None  # the package's folder (set when the packages are discovered)
    # further values its template reads, made from the lock's components (render's own keys win)
    context: Callable[[Mapping[str, Component]], dict[str, Any]] | None = None
    on_image: bool = False  # a runtime package: `emt integrate` puts it on the EMT image
    bundle: Bundle | None = None  # what its tree bundles from other projects (root-diff)

    def template_dir(self, override: Path | None = None) -> Path:
        """The folder holding ``<name>.spec.j2`` and the patches: a project's own
        ``templates/<name>/`` when it has one (a packager iterating on a patch), else the
        package's ``templates/``."""
        if override is not None and (override / self.name).is_dir():
            return override / self.name
        assert self.home is not None, f"package {self.name} was not discovered"
        return self.home / "templates"

    def rule_for(self, source_name: str, comp: Component) -> SourceRule | None:
        """The rule that made a lock Source of this package (names are formatted per tag)."""
        fmt = source_format(comp)
        for r in self.sources:
            try:
                if r.name.format(**fmt) == source_name:
                    return r
            except (KeyError, IndexError):
                continue
        return None


def source_format(comp: Component) -> dict[str, Any]:
    """Fields a SourceRule's name and path may use: {tag} {version} {commit} and the
    component's facts, e.g. {facts[modules][runc][version]} or {facts[charts][traefik]}."""
    from emtk3s.model.versions import component_version

    return {
        "tag": comp.tag,
        "commit": comp.commit or "",
        "version": component_version(comp.tag),
        "facts": comp.facts,
    }


def _discover() -> tuple[dict[str, ComponentDef], dict[str, PackageDef]]:
    from emtk3s import packages as folders

    comps: dict[str, ComponentDef] = {}
    packages: dict[str, PackageDef] = {}
    for info in sorted(pkgutil.iter_modules(folders.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        mod = importlib.import_module(f"{folders.__name__}.{info.name}")
        for c in getattr(mod, "COMPONENTS", ()):
            comps[c.name] = c
        pkg = getattr(mod, "PACKAGE", None)
        if pkg is not None:
            packages[pkg.name] = replace(pkg, home=Path(str(mod.__file__)).parent)
    return comps, packages


COMPONENTS, PACKAGES = _discover()


def select(names: tuple[str, ...] | list[str]) -> list[PackageDef]:
    """The named packages (all when ``names`` is empty), in a stable order."""
    if not names:
        return [PACKAGES[n] for n in sorted(PACKAGES)]
    out = []
    for n in names:
        if n not in PACKAGES:
            raise InputError(f"unknown package {n!r}", f"choose from {', '.join(sorted(PACKAGES))}")
        out.append(PACKAGES[n])
    return out


def component_order(names: list[str]) -> list[str]:
    """The named components and everything they need, dependencies first (the components
    every lock has come first)."""
    order: list[str] = []

    def visit(n: str, path: tuple[str, ...]) -> None:
        if n in order:
            return
        if n in path:
            raise InputError(
                f"component cycle: {' -> '.join(path + (n,))}", "fix the packages' COMPONENTS"
            )
        if n not in COMPONENTS:
            raise InputError(
                f"unknown component {n!r}", f"choose from {', '.join(sorted(COMPONENTS))}"
            )
        for dep in COMPONENTS[n].needs:
            visit(dep, path + (n,))
        order.append(n)

    for n in [*(c.name for c in COMPONENTS.values() if c.always), *names]:
        visit(n, ())
    return order
