"""resolve: release.toml -> emtk3s.lock.

Fetches each upstream tag (shallow, that tag only), records its commit, reads the tag's own
files for the versions of the next components, and pins every source it can without a download.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from emtk3s.infra import checks
from emtk3s.infra.cache import Cache
from emtk3s.infra.errors import InputError, LockedError
from emtk3s.infra.fsutil import write_if_changed
from emtk3s.infra.git import TagCheckout, fetch_tag
from emtk3s.infra.paths import data_file
from emtk3s.model import lock as lockmod
from emtk3s.model import package as pkgs
from emtk3s.model.lock import GENERATED, Component, Lock, PackageLock, Source
from emtk3s.model.release import Release
from emtk3s.model.versions import component_version
from emtk3s.stages.context import StageRun

#: an [overrides] key that sets a value of the tag's files rather than a component's tag
VALUE_KEY = re.compile(r"^VERSION_[A-Z0-9_]+$")


def known_hashes() -> dict[str, str]:
    text = data_file("known-hashes.json").read_text()
    data: dict[str, str] = json.loads(text)
    data.pop("_comment", None)
    return data


@dataclass
class ResolveResult:
    JSON_EXTRA: ClassVar[tuple[str, ...]] = ("k3s", "components", "unpinned")

    lock: Lock = field(metadata={"json": False})
    changed: bool  # the lock file was (or would be) rewritten
    network: bool  # upstream was contacted
    changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def k3s(self) -> str:
        return self.lock.k3s

    @property
    def components(self) -> dict[str, dict[str, Any]]:
        return {
            n: {"tag": c.tag, "commit": c.commit, "commit_time": c.commit_time}
            for n, c in sorted(self.lock.components.items())
        }

    @property
    def unpinned(self) -> list[str]:
        return [f"{p}/{s}" for p, s in self.lock.unpinned()]


def input_digest(release: Release) -> str:
    """What the lock depends on: release.toml's build inputs and the selected packages'
    descriptions (adding a package or changing a source rule re-resolves)."""
    desc = []
    for p in release.catalog.select(list(release.packages)):
        rules = [(r.name, r.mirror, r.path, r.git_path, r.generate is not None) for r in p.sources]
        desc.append((p.name, p.component, list(p.components), rules))
    blob = json.dumps([release.digest(), desc], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def github_archive_prefix(comp: Component) -> str:
    """GitHub's top directory for a tag archive: <repo>-<tag without v, + as ->."""
    tag = comp.tag[1:] if comp.tag[:1] == "v" and comp.tag[1:2].isdigit() else comp.tag
    return f"{comp.repo.split('/')[1]}-{tag.replace('+', '-')}"


def _sources(
    pdef: pkgs.PackageDef,
    comp: Component,
    co: TagCheckout,
    old: PackageLock | None,
    comps: dict[str, Component],
    release: Release,
    checkouts: dict[str, TagCheckout] | None = None,
) -> list[Source]:
    known = known_hashes()
    # (a hash another component records pins only that component's own downloads, see
    # PackageDef.listed; never a source of another package)
    out = []
    fmt = pkgs.source_format(comp)
    for rule in pdef.sources:
        if rule.when is not None and not rule.when(release):
            continue
        if rule.present is not None and not rule.present(comp.facts):
            continue
        try:
            name = checks.file_name(rule.name.format(**fmt), f"{pdef.name} source name")
            path = rule.path.format(**fmt)
        except (KeyError, IndexError) as exc:
            key = str(exc.args[0])
            hint = (
                f'set it in release.toml: [overrides] {key} = "<version>" '
                "(docs/packages/k3s.md#overrides), or report this upstream era"
                if key.startswith("VERSION_")
                else "this upstream era is not understood yet: report it"
            )
            raise InputError(
                f"{comp.repo} {comp.tag}: its files name no {key!r}, needed for {pdef.name}'s source {rule.name}",
                hint,
            ) from None
        sha: str | None = None
        size: int | None = None
        origin = ""
        mirror = rule.mirror
        upstream = ""
        if rule.generate is not None:
            mirror = GENERATED
            if not path.startswith("generated:") or not checks.is_label(path):
                raise InputError(f"{pdef.name}: generated source label {path!r} is not valid", "")
        else:
            upstream = release.catalog.mirrors[rule.mirror] + path
            checks.url(upstream, f"{pdef.name} source {name}")
        if rule.git_path:
            data = co.read(rule.git_path)
            sha, size, origin = hashlib.sha256(data).hexdigest(), len(data), "git-blob"
        elif upstream and upstream in known:
            sha, origin = known[upstream], "public-record"
        elif rule.archive_of and checkouts and rule.archive_of in checkouts:
            arch_comp = (comps or {}).get(rule.archive_of)
            assert arch_comp is not None
            data = checkouts[rule.archive_of].github_archive(github_archive_prefix(arch_comp))
            sha, size, origin = hashlib.sha256(data).hexdigest(), len(data), "git-archive"
        prev = None
        if old is not None:
            prev = next((s for s in old.sources if s.name == name and s.path == path), None)
        if prev is not None and prev.sha256:
            if sha is None:
                sha, size, origin = prev.sha256, prev.size, prev.origin
            elif size is None and prev.sha256 == sha:
                size = prev.size
        out.append(Source(name, mirror, path, sha, size, origin))
    if pdef.listed is not None:
        out += _listed(pdef, comps, old, known, release.catalog.mirrors)
    names = [s.name for s in out]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise InputError(
            f"{pdef.name}: two sources are named {dup}", "report it: the list is ambiguous"
        )
    return out


def _listed(
    pdef: pkgs.PackageDef,
    comps: dict[str, Component],
    old: PackageLock | None,
    known: dict[str, str],
    mirrors: Mapping[str, str],
) -> list[Source]:
    """The package's Sources from an upstream's own list, pinned by the hash that upstream
    records for that file, by a public record of its URL, or by a previous lock's fetch."""
    assert pdef.listed is not None
    out = []
    for ls in pdef.listed(comps):
        name = checks.file_name(ls.name, f"{pdef.name} source name")
        sha, origin = ls.sha256, ls.origin if ls.sha256 else ""
        if sha is None and ls.url in known:
            sha, origin = known[ls.url], "public-record"
        size = None
        prev = (
            next((s for s in old.sources if s.name == name and s.path == ls.path), None)
            if old
            else None
        )
        if prev is not None and prev.sha256:
            if sha is None:
                sha, origin = prev.sha256, prev.origin
            if sha == prev.sha256:
                size = prev.size
        src = Source(name, ls.mirror, ls.path, sha, size, origin or ls.origin, ls.url, ls.sha512)
        src.check(pdef.name, mirrors)
        out.append(src)
    return out


def value_overrides(release: Release) -> dict[str, str]:
    """``[overrides] VERSION_X = "..."``: values of the tag's files, not component tags."""
    return {k: v for k, v in release.overrides.items() if VALUE_KEY.match(k)}


def check_overrides(release: Release) -> None:
    """An [overrides] entry names a known component, or a VERSION_* value a component's facts
    reader takes (a typo must not be ignored: the reader refuses a value no file assigns)."""
    takes_values = any(c.value_overrides for c in release.catalog.components.values())
    for name in release.overrides:
        if VALUE_KEY.match(name) and takes_values:
            continue
        if name not in release.catalog.components:
            raise InputError(
                f"{release.path or 'release.toml'}: [overrides] {name}: no such component",
                f"use one of {', '.join(sorted(release.catalog.components))}"
                + (", or a VERSION_* value of the K3s tag's files" if takes_values else ""),
            )


def apply_override(
    cdef: pkgs.ComponentDef, comps: dict[str, Component], override: str | None
) -> None:
    """An overridden tag that another component's fact pins is written back into that fact,
    so that every value derived from it (source names, paths, archive hashes, the spec) follows
    the override; the upstream value is kept as a note. A component whose tag is derived from
    another's facts in a way emtk3s cannot write back cannot be overridden."""
    if override is None or cdef.pinned_by is None:
        return
    comp_name, fact = cdef.pinned_by
    owner = comps.get(comp_name)
    if owner is None:
        return  # the owner was not resolved (not needed by the selected packages)
    upstream_value = owner.facts.get(fact)
    if upstream_value != override:
        owner.facts[fact] = override
        owner.facts[f"_{fact}_upstream"] = (
            f"{comp_name} pins {upstream_value}; release.toml overrides it"
        )


def resolve(
    release: Release,
    cache: Cache,
    lock_path: Path,
    *,
    refresh: bool = False,
    repin: bool = False,
    locked: bool = False,
    offline: bool = False,
) -> ResolveResult:
    catalog = release.catalog
    old = lockmod.load(lock_path, catalog.mirrors)
    digest = input_digest(release)
    # --repin contacts upstream like --refresh: re-pinning needs to see where the tags are now
    if old is not None and old.release_digest == digest and not (refresh or repin):
        return ResolveResult(old, changed=False, network=False)
    if offline:
        raise InputError(
            f"{lock_path} does not match {release.path or 'release.toml'} and --offline was given",
            "run emtk3s resolve with network access (or a mirror) to update the lock",
        )
    selected = catalog.select(list(release.packages))
    wanted = sorted({c for p in selected for c in (p.component, *p.components)})
    check_overrides(release)
    comps: dict[str, Component] = {}
    checkouts: dict[str, TagCheckout] = {}
    for name in catalog.component_order(wanted):
        cdef = catalog.components[name]
        ctx = pkgs.ResolveContext(release, comps)
        tag = release.overrides.get(name) or cdef.tag(ctx)
        checks.tag(tag, f"{name} tag")
        apply_override(cdef, comps, release.overrides.get(name))
        url = f"{release.mirror('github')}/{cdef.repo}.git"
        co = fetch_tag(cache.root, url, tag, allow_http=release.http_allowed("github"))
        if cdef.facts is None:
            facts: dict[str, Any] = {}
        elif cdef.value_overrides:
            facts = cdef.facts(co, value_overrides(release))
        else:
            facts = cdef.facts(co)
        if cdef.derived is not None:
            facts.update(cdef.derived(co, checkouts, release))
        comps[name] = Component(name, cdef.repo, tag, co.info.commit, co.info.commit_time, facts)
        checkouts[name] = co

    changes: list[dict[str, Any]] = []
    for name, comp in comps.items():
        prev = old.components.get(name) if old else None
        if prev is not None and not repin:
            lockmod.check_moved(prev, comp)
        if prev is None or prev.tag != comp.tag:
            changes.append({"component": name, "old": prev.tag if prev else None, "new": comp.tag})

    packages: dict[str, PackageLock] = {}
    # image manifest digests pinned from a build stay pinned while the image list names them and
    # the package's upstream commit is the same (the archives' times are its commit time)
    listed = {
        str(i.get("_reference"))
        for c in comps.values()
        if isinstance(c.facts.get("images"), Mapping)
        for i in c.facts["images"].values()
        if isinstance(i, Mapping)
    }
    for pdef in selected:
        comp = comps[pdef.component]
        prev_pkg = old.packages.get(pdef.name) if old else None
        packages[pdef.name] = PackageLock(
            name=pdef.name,
            version=component_version(comp.tag),
            component=pdef.component,
            sources=tuple(
                _sources(pdef, comp, checkouts[pdef.component], prev_pkg, comps, release, checkouts)
            ),
            image_digests={
                r: d
                for r, d in (prev_pkg.image_digests if prev_pkg else {}).items()
                if r in listed and old is not None and old.components.get(pdef.component) == comp
            },
        )
    new = Lock(digest, release.k3s.tag, comps, packages)
    changed = old is None or new.to_json() != old.to_json()
    if changed and locked:
        raise LockedError(
            f"{lock_path} would change and --locked was given",
            "run emtk3s resolve without --locked and review the diff",
        )
    if changed:
        new, changed = _write(lock_path, new, catalog.mirrors)
    return ResolveResult(new, changed=changed, network=True, changes=changes)


def _write(lock_path: Path, new: Lock, mirrors: Mapping[str, str]) -> tuple[Lock, bool]:
    """Write the new lock under the lock file's writer lock, keeping the pins a fetch made
    meanwhile for sources the new lock still has unpinned (same name and path)."""
    with lockmod.writer(lock_path):
        now = lockmod.load(lock_path, mirrors)
        if now is not None:
            keep = []
            for pin in now.pins():
                plock = new.packages.get(pin.package)
                was = now.packages[pin.package].source(pin.source)
                if plock is None:
                    continue
                for s in plock.sources:
                    if s.name == pin.source and s.path == was.path and s.sha256 is None:
                        keep.append(pin)
            new = new.with_pins(keep)
        return new, write_if_changed(lock_path, new.to_json().encode())


NAME = "resolve"


def run(r: StageRun) -> ResolveResult:
    o = r.options
    return resolve(
        r.release,
        r.project.cache,
        r.project.lock_file,
        refresh=o.refresh,
        repin=o.repin,
        locked=o.locked,
        offline=o.offline,
    )
