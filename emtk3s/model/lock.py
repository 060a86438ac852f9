"""emtk3s.lock: every component and source, exactly (tag, commit, URL, size, sha256).

JSON with sorted keys so that a change reads as a small diff in review.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from emtk3s.infra import checks as validate
from emtk3s.infra.errors import InputError, IntegrityError
from emtk3s.infra.fsutil import write_if_changed
from emtk3s.model.release import DEFAULT_MIRRORS

LOCK_VERSION = 1
GENERATED = "generated"  # Source.mirror of a file emtk3s makes (vendor tarball, buildroot dl)


@dataclass
class Component:
    """An upstream repository at a tag, as resolve found it."""

    name: str
    repo: str  # owner/name on the github mirror
    tag: str
    commit: str | None  # None: not yet verified against upstream (resolve --refresh fills it)
    commit_time: int | None
    facts: dict[str, Any] = field(default_factory=dict)  # what resolve read from the tag

    def check(self) -> None:
        validate.tag(self.tag, f"lock: {self.name}.tag")
        if self.commit is not None:
            validate.commit(self.commit)
        if self.commit_time is not None and (
            not isinstance(self.commit_time, int) or self.commit_time < 0
        ):
            raise InputError(f"lock: {self.name}.commit_time is not a timestamp", "re-resolve")


@dataclass
class Source:
    """One file a package's spec lists as a Source."""

    name: str  # the local file name (Source: ...#/<name>)
    mirror: str  # which configured base serves it (github, raw, k3s_charts)
    path: str  # path below the base, e.g. /k3s-io/k3s-root/archive/refs/tags/v0.14.1.tar.gz
    sha256: str | None
    size: int | None
    origin: str  # how the hash became known: git-blob, public-record, fetch; "" if unpinned

    @property
    def pinned(self) -> bool:
        return self.sha256 is not None

    @property
    def generated(self) -> bool:
        return self.mirror == GENERATED

    @property
    def upstream_url(self) -> str:
        """The canonical upstream URL (what the spec and cgmanifest show); "" if generated."""
        return "" if self.generated else DEFAULT_MIRRORS[self.mirror] + self.path

    def check(self, pkg: str) -> None:
        validate.file_name(self.name, f"lock: {pkg} source name")
        if self.generated:
            if not self.path.startswith("generated:") or not validate.is_label(self.path):
                raise InputError(f"lock: {pkg}/{self.name}: bad generated label {self.path!r}", "")
        else:
            if self.mirror not in DEFAULT_MIRRORS:
                raise InputError(f"lock: {pkg}/{self.name}: unknown mirror {self.mirror!r}", "")
            validate.url(self.upstream_url, f"lock: {pkg}/{self.name} URL")
        if self.sha256 is not None:
            validate.sha256(self.sha256, f"lock: {pkg}/{self.name} sha256")


@dataclass
class PackageLock:
    name: str
    version: str
    component: str  # the component whose tag gives version and SOURCE_DATE_EPOCH
    sources: list[Source]

    def source(self, name: str) -> Source:
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)


@dataclass
class Lock:
    release_digest: str
    k3s: str
    components: dict[str, Component]
    packages: dict[str, PackageLock]
    version: int = LOCK_VERSION

    def to_json(self) -> str:
        data = {
            "version": self.version,
            "release_digest": self.release_digest,
            "k3s": self.k3s,
            "components": {k: asdict(v) for k, v in sorted(self.components.items())},
            "packages": {
                k: {
                    "name": p.name,
                    "version": p.version,
                    "component": p.component,
                    "sources": [asdict(s) | {"pinned": s.pinned} for s in p.sources],
                }
                for k, p in sorted(self.packages.items())
            },
        }
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = "emtk3s.lock") -> Lock:
        try:
            data = json.loads(text)
            if data.get("version") != LOCK_VERSION:
                raise InputError(
                    f"{where}: lock version {data.get('version')!r} is not {LOCK_VERSION}",
                    "re-create it with emtk3s resolve",
                )
            comps = {k: Component(**v) for k, v in data["components"].items()}
            pkgs = {}
            for k, p in data["packages"].items():
                sources = []
                for s in p["sources"]:
                    s = dict(s)
                    pinned = s.pop("pinned", None)
                    src = Source(**s)
                    if pinned is not None and pinned != src.pinned:
                        raise InputError(
                            f"{where}: {k}/{src.name}: 'pinned' disagrees with sha256",
                            "re-create the lock with emtk3s resolve",
                        )
                    sources.append(src)
                pkgs[k] = PackageLock(p["name"], p["version"], p["component"], sources)
            lock = cls(data["release_digest"], data["k3s"], comps, pkgs)
        except InputError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(
                f"{where}: not a valid lock file ({type(exc).__name__}: {exc})",
                "restore it from git or re-create it with emtk3s resolve",
            ) from None
        for c in lock.components.values():
            c.check()
        for p in lock.packages.values():
            validate.package_name(p.name)
            for s in p.sources:
                s.check(p.name)
        return lock

    def save(self, path: Path) -> bool:
        return write_if_changed(path, self.to_json().encode())

    def unpinned(self) -> list[tuple[str, str]]:
        return [(p.name, s.name) for p in self.packages.values() for s in p.sources if not s.pinned]


def load(path: Path) -> Lock | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return Lock.from_json(text, str(path))


def require(path: Path) -> Lock:
    lock = load(path)
    if lock is None:
        raise InputError(f"{path}: no lock file", "run emtk3s resolve first")
    return lock


def check_moved(old: Component, new: Component) -> None:
    if old.tag == new.tag and old.commit is not None and old.commit != new.commit:
        raise IntegrityError(
            f"upstream tag {new.tag} of {new.repo} moved: the lock pins commit {old.commit}, "
            f"upstream now has {new.commit}",
            "a moved tag is suspicious: verify upstream, then re-pin with emtk3s resolve --repin",
        )
