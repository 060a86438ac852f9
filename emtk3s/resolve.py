"""resolve: release.toml -> emtk3s.lock.

Fetches each upstream tag (shallow, that tag only), records its commit, reads the tag's own
files for the component versions, and pins every source it can without a download.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from . import lock as lockmod
from . import packages as pkgs
from . import validate
from .errors import InputError, LockedError
from .fetch.cache import Cache
from .fetch.git import TagCheckout, fetch_tag
from .lock import Component, Lock, PackageLock, Source
from .manifest import DEFAULT_MIRRORS, Release
from .upstream import k3s as k3s_up
from .versions import component_version


def known_hashes() -> dict[str, str]:
    text = resources.files("emtk3s").joinpath("data/known-hashes.json").read_text()
    data: dict[str, str] = json.loads(text)
    data.pop("_comment", None)
    return data


@dataclass
class ResolveResult:
    lock: Lock
    changed: bool  # the lock file was (or would be) rewritten
    network: bool  # upstream was contacted
    changes: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "k3s": self.lock.k3s,
            "changed": self.changed,
            "network": self.network,
            "changes": self.changes,
            "components": {
                n: {"tag": c.tag, "commit": c.commit, "commit_time": c.commit_time}
                for n, c in sorted(self.lock.components.items())
            },
            "unpinned": [f"{p}/{s}" for p, s in self.lock.unpinned()],
        }


class _Upstream:
    def __init__(self, release: Release, cache: Cache) -> None:
        self.release = release
        self.cache = cache

    def fetch(self, comp: str, tag: str) -> TagCheckout:
        cdef = pkgs.COMPONENTS[comp]
        url = f"{self.release.mirror('github')}/{cdef.repo}.git"
        return fetch_tag(self.cache.root, url, tag, allow_http=self.release.http_allowed("github"))


def _component(name: str, co: TagCheckout, facts: dict[str, Any]) -> Component:
    return Component(
        name=name,
        repo=pkgs.COMPONENTS[name].repo,
        tag=co.info.tag,
        commit=co.info.commit,
        commit_time=co.info.commit_time,
        facts=facts,
    )


def _sources(
    pdef: pkgs.PackageDef, comp: Component, co: TagCheckout, old: PackageLock | None
) -> list[Source]:
    known = known_hashes()
    out = []
    fmt = {"tag": comp.tag, "commit": comp.commit, "version": component_version(comp.tag)}
    for rule in pdef.sources:
        name = validate.file_name(rule.name.format(**fmt), f"{pdef.name} source name")
        path = rule.path.format(**fmt)
        upstream = DEFAULT_MIRRORS[rule.mirror] + path
        validate.url(upstream, f"{pdef.name} source {name}")
        sha: str | None = None
        size: int | None = None
        origin = ""
        if rule.git_path:
            data = co.read(rule.git_path)
            sha, size, origin = hashlib.sha256(data).hexdigest(), len(data), "git-blob"
        elif upstream in known:
            sha, origin = known[upstream], "public-record"
        if old is not None:
            try:
                prev = old.source(name)
            except KeyError:
                prev = None
            if prev is not None and prev.path == path and prev.sha256:
                if sha is None:
                    sha, size, origin = prev.sha256, prev.size, prev.origin
                elif size is None and prev.sha256 == sha:
                    size = prev.size
        out.append(Source(name, rule.mirror, path, sha, size, origin))
    return out


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
    old = lockmod.load(lock_path)
    if old is not None and old.release_digest == release.digest() and not refresh:
        return ResolveResult(old, changed=False, network=False)
    if offline:
        raise InputError(
            f"{lock_path} does not match {release.path or 'release.toml'} and --offline was given",
            "run emtk3s resolve with network access (or a mirror) to update the lock",
        )
    up = _Upstream(release, cache)
    k3s_co = up.fetch("k3s", release.k3s.tag)
    where = f"{release.k3s.tag}:scripts/version.sh"
    facts = k3s_up.parse_version_sh(k3s_co.read("scripts/version.sh").decode("utf-8", "replace"), where)
    root_tag = release.k3s_root
    if root_tag is None:
        k3s_up.require(facts, k3s_up.REQUIRED, where)
        root_tag = facts["VERSION_ROOT"]
    comps = {"k3s": _component("k3s", k3s_co, facts)}
    checkouts = {"k3s": k3s_co}
    root_co = up.fetch("k3s-root", root_tag)
    comps["k3s-root"] = _component("k3s-root", root_co, {})
    checkouts["k3s-root"] = root_co

    changes: list[dict[str, Any]] = []
    for name, comp in comps.items():
        prev = old.components.get(name) if old else None
        if prev is not None and not repin:
            lockmod.check_moved(prev, comp)
        if prev is None or prev.tag != comp.tag:
            changes.append({"component": name, "old": prev.tag if prev else None, "new": comp.tag})

    packages: dict[str, PackageLock] = {}
    for pdef in pkgs.select(list(release.packages)):
        comp = comps[pdef.component]
        prev_pkg = old.packages.get(pdef.name) if old else None
        packages[pdef.name] = PackageLock(
            name=pdef.name,
            version=component_version(comp.tag),
            component=pdef.component,
            sources=_sources(pdef, comp, checkouts[pdef.component], prev_pkg),
        )
    new = Lock(release.digest(), release.k3s.tag, comps, packages)
    changed = old is None or new.to_json() != old.to_json()
    if changed and locked:
        raise LockedError(
            f"{lock_path} would change and --locked was given",
            "run emtk3s resolve without --locked and review the diff",
        )
    if changed:
        new.save(lock_path)
    return ResolveResult(new, changed=changed, network=True, changes=changes)
