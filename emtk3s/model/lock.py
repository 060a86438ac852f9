"""emtk3s.lock: every component and source, exactly (tag, commit, URL, size, sha256).

JSON with sorted keys so that a change reads as a small diff in review. A :class:`Lock` is an
immutable value: resolve makes a new one, fetch returns :class:`Pin`s, and the lock file is
written only by :func:`write` and :func:`save_pins`, each under the one writer lock of that file
(``flock``), so two runs at once never lose each other's pins.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from emtk3s import formats
from emtk3s.infra import checks
from emtk3s.infra.errors import InputError, IntegrityError, PreconditionError
from emtk3s.infra.fsutil import file_lock, write_if_changed
from emtk3s.model.changelog import MAX_EPOCH

LOCK_VERSION = 1
GENERATED = "generated"  # Source.mirror of a file emtk3s makes (e.g. a Go vendor tarball)


@dataclass(frozen=True)
class Component:
    """An upstream repository at a tag, as resolve found it."""

    name: str
    repo: str  # owner/name on the github mirror
    tag: str
    commit: str | None  # None: not yet verified against upstream (resolve --refresh fills it)
    commit_time: int | None
    facts: dict[str, Any] = field(default_factory=dict)  # what resolve read from the tag

    def check(self) -> None:
        checks.tag(self.tag, f"lock: {self.name}.tag")
        if self.commit is not None:
            checks.commit(self.commit)
        if self.commit_time is not None and (
            not isinstance(self.commit_time, int) or self.commit_time < 0
        ):
            raise InputError(f"lock: {self.name}.commit_time is not a timestamp", "re-resolve")


@dataclass(frozen=True)
class Source:
    """One file a package's spec lists as a Source."""

    name: str  # the local file name (Source: ...#/<name>)
    mirror: str  # which configured base serves it (github, raw, k3s_charts)
    path: str  # path below the base, e.g. /owner/repo/archive/refs/tags/v1.0.tar.gz
    sha256: str | None
    size: int | None
    origin: str  # how the hash became known: git-blob, public-record, fetch; "" if unpinned
    # the upstream URL the spec shows when fetch gets the file elsewhere (a listed download: its
    # primary site, maybe plain http, while fetch uses an https backup); "" = mirror + path
    url: str = ""
    # what the upstream records when it has no sha256 (e.g. GNU's sha512 sums only); fetch
    # verifies it and then records the sha256
    sha512: str | None = None

    @property
    def pinned(self) -> bool:
        return self.sha256 is not None

    @property
    def generated(self) -> bool:
        return self.mirror == GENERATED

    def upstream_url(self, mirrors: Mapping[str, str]) -> str:
        """The canonical upstream URL (what the spec and cgmanifest show): the default base of
        the mirror (``Catalog.mirrors``) plus the path, so that it does not depend on which
        mirror fetched the file; "" if generated."""
        if self.generated:
            return ""
        return self.url or mirrors[self.mirror] + self.path

    def pinned_to(self, pin: Pin) -> Source:
        """This source with what a fetch learnt (checked against what is pinned already)."""
        if self.sha256 is None:
            return replace(self, sha256=pin.sha256, size=pin.size, origin=pin.origin)
        if self.sha256 != pin.sha256:
            raise IntegrityError(
                f"{pin.what}: got sha256 {pin.sha256}, the lock pins {self.sha256}",
                "the lock changed meanwhile or upstream changed the file; fetch again and review",
            )
        if self.size is None or pin.size is None:
            return self if pin.size is None else replace(self, size=pin.size)
        if self.size != pin.size:
            raise IntegrityError(
                f"{pin.what}: {pin.size} bytes, the lock pins {self.size}", "check the mirror"
            )
        return self

    def check(self, pkg: str, mirrors: Mapping[str, str]) -> None:
        checks.file_name(self.name, f"lock: {pkg} source name")
        if self.generated:
            if not self.path.startswith("generated:") or not checks.is_label(self.path):
                raise InputError(f"lock: {pkg}/{self.name}: bad generated label {self.path!r}", "")
        else:
            if self.mirror not in mirrors:
                raise InputError(f"lock: {pkg}/{self.name}: unknown mirror {self.mirror!r}", "")
            # percent escapes only in a fetch path (a backup mirror's urlencoded names); a spec
            # never shows one (rpm would read it as a macro)
            where = mirrors[self.mirror] + self.path
            checks.url(where, f"lock: {pkg}/{self.name} URL", escapes=True)
            if self.url:
                # plain http only for a file pinned by hash before its download
                pinned = self.sha256 is not None or self.sha512 is not None
                checks.url(self.url, f"lock: {pkg}/{self.name} upstream URL", allow_http=pinned)
        if self.sha512 is not None and not re.fullmatch(r"[0-9a-f]{128}", self.sha512):
            raise InputError(f"lock: {pkg}/{self.name}: sha512 is not 128 hex digits", "re-resolve")
        if self.sha256 is not None:
            checks.sha256(self.sha256, f"lock: {pkg}/{self.name} sha256")


_SOURCE_FIELDS = tuple(f.name for f in fields(Source))


def source_record(s: Source) -> dict[str, Any]:
    """A source as the lock file holds it (``url`` and ``sha512`` only when set)."""
    # every field is a str, int or None: no deep copy (asdict) needed
    d = {f: getattr(s, f) for f in _SOURCE_FIELDS} | {"pinned": s.pinned}
    if not s.url:
        del d["url"]
    if s.sha512 is None:
        del d["sha512"]
    return d


#: an image reference as K3s' image list names it (registry/repository:tag)
IMAGE_REF = re.compile(
    r"[a-z0-9][a-z0-9.-]*(?::[0-9]+)?(?:/[a-z0-9][a-z0-9._-]*)+:[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}"
)
#: an OCI manifest digest
MANIFEST_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
#: the architectures (GOARCH) an image archive is written for
IMAGE_ARCHES = ("amd64", "arm64")


@dataclass(frozen=True)
class PackageLock:
    name: str
    version: str
    component: str  # the component whose tag gives version and SOURCE_DATE_EPOCH
    sources: tuple[Source, ...]
    #: the manifest digests of the image archives the package's build writes, pinned from a
    #: build (``emtk3s pin-images``): image reference -> {goarch: "sha256:..."}; the spec's
    #: %check compares the rebuilt archives with them
    image_digests: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(
            self,
            "image_digests",
            {r: dict(sorted(d.items())) for r, d in sorted(self.image_digests.items())},
        )

    def source(self, name: str) -> Source:
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)


@dataclass(frozen=True)
class Pin:
    """What fetch learnt about one source: its sha256 and size as served (or as made)."""

    package: str
    source: str
    sha256: str
    size: int | None
    origin: str  # fetch | generated (or where a carried-over pin came from)

    @property
    def what(self) -> str:
        return f"{self.package}/{self.source}"


@dataclass(frozen=True)
class Lock:
    release_digest: str
    k3s: str
    components: Mapping[str, Component]
    packages: Mapping[str, PackageLock]
    version: int = LOCK_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "components", MappingProxyType(dict(self.components)))
        object.__setattr__(self, "packages", MappingProxyType(dict(self.packages)))

    def with_pins(self, pins: Iterable[Pin]) -> Lock:
        """A new lock with these pins. A pin for a source pinned to other bytes is an
        integrity error; a pin for a source this lock no longer has is dropped."""
        by_pkg: dict[str, dict[str, Pin]] = {}
        for pin in pins:
            by_pkg.setdefault(pin.package, {})[pin.source] = pin
        packages = dict(self.packages)
        for pname, pkg_pins in by_pkg.items():
            plock = packages.get(pname)
            if plock is None:
                continue
            sources = []
            for src in plock.sources:
                found = pkg_pins.get(src.name)
                sources.append(src if found is None else src.pinned_to(found))
            packages[pname] = replace(plock, sources=tuple(sources))
        return replace(self, packages=packages)

    def to_json(self) -> str:
        """The lock file's text (sorted keys, indented: a change reads as a small diff)."""
        return json.dumps(self._data(), indent=2, sort_keys=True) + "\n"

    def canonical(self) -> str:
        """The same content in compact form, for input digests (C-speed JSON: no indent)."""
        return json.dumps(self._data(), sort_keys=True, separators=(",", ":"))

    def _data(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "release_digest": self.release_digest,
            "k3s": self.k3s,
            "components": {k: self.component_data(k) for k in sorted(self.components)},
            "packages": {k: self.package_data(k) for k in sorted(self.packages)},
        }

    def package_data(self, name: str) -> dict[str, Any]:
        """One package as the lock file writes it (``show NAME`` encodes only this)."""
        p = self.packages[name]
        data: dict[str, Any] = {
            "name": p.name,
            "version": p.version,
            "component": p.component,
            "sources": [source_record(s) for s in p.sources],
        }
        if p.image_digests:
            data["image_digests"] = {r: dict(d) for r, d in p.image_digests.items()}
        return data

    def component_data(self, name: str) -> dict[str, Any]:
        """One component as the lock file writes it."""
        return asdict(self.components[name])

    @classmethod
    def from_json(cls, text: str, mirrors: Mapping[str, str], where: str = "emtk3s.lock") -> Lock:
        """The lock in ``text``, every field checked; ``mirrors``: the mirror names a source
        may name, with their default bases (``Catalog.mirrors``)."""
        try:
            data = json.loads(text)
            if data.get("version") != LOCK_VERSION:
                raise InputError(
                    f"{where}: lock version {data.get('version')!r} is not {LOCK_VERSION}",
                    "re-create it with emtk3s resolve",
                )
            formats.check("lock", data, where)  # emtk3s/formats/lock.schema.json
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
                pkgs[k] = PackageLock(
                    p["name"],
                    p["version"],
                    p["component"],
                    tuple(sources),
                    p.get("image_digests", {}),
                )
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
            checks.package_name(p.name)
            for s in p.sources:
                s.check(p.name, mirrors)
        check_fields(lock, where)
        return lock

    def pins(self) -> list[Pin]:
        """Every pinned source as a pin (to carry pins over into a newly resolved lock)."""
        return [
            Pin(p.name, s.name, s.sha256, s.size, s.origin)
            for p in self.packages.values()
            for s in p.sources
            if s.sha256 is not None
        ]

    def unpinned(self) -> list[tuple[str, str]]:
        return [(p.name, s.name) for p in self.packages.values() for s in p.sources if not s.pinned]


def load(path: Path, mirrors: Mapping[str, str]) -> Lock | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return Lock.from_json(text, mirrors, str(path))


def require(path: Path, mirrors: Mapping[str, str]) -> Lock:
    lock = load(path, mirrors)
    if lock is None:
        raise PreconditionError(f"{path}: no lock file", "run emtk3s resolve first")
    return lock


def check_moved(old: Component, new: Component) -> None:
    if old.tag == new.tag and old.commit is not None and old.commit != new.commit:
        raise IntegrityError(
            f"upstream tag {new.tag} of {new.repo} moved: the lock pins commit {old.commit}, "
            f"upstream now has {new.commit}",
            "a moved tag is suspicious: verify upstream, then re-pin with emtk3s resolve --repin",
        )


@contextmanager
def writer(path: Path) -> Iterator[None]:
    """The one writer lock of a lock file (held while it is read, merged and written)."""
    with file_lock(path.parent / ".emtk3s" / "locks" / f"{path.name}.lock"):
        yield


def write(path: Path, lock: Lock) -> bool:
    """Write a whole new lock (resolve) under the writer lock; returns whether it changed."""
    with writer(path):
        return write_if_changed(path, lock.to_json().encode())


def save_pins(path: Path, pins: Iterable[Pin], mirrors: Mapping[str, str]) -> tuple[Lock, bool]:
    """Merge pins into the lock file as it is now (another run may have pinned other sources
    meanwhile) and write it, all under the writer lock. Returns the merged lock and whether
    the file changed."""
    pins = list(pins)
    with writer(path):
        current = require(path, mirrors)
        merged = current.with_pins(pins)
        return merged, write_if_changed(path, merged.to_json().encode())


def save_image_digests(
    path: Path, package: str, digests: Mapping[str, Mapping[str, str]], mirrors: Mapping[str, str]
) -> tuple[Lock, bool]:
    """Merge one package's image manifest digests (reference -> {goarch: digest}) into the lock
    file as it is now and write it, under the writer lock. Returns the merged lock and whether
    the file changed."""
    with writer(path):
        current = require(path, mirrors)
        plock = current.packages[package]
        merged_digests = {r: dict(d) for r, d in plock.image_digests.items()}
        for ref, by_arch in digests.items():
            merged_digests.setdefault(ref, {}).update(by_arch)
        packages = dict(current.packages)
        packages[package] = replace(plock, image_digests=merged_digests)
        merged = replace(current, packages=packages)
        check_fields(merged, str(path))
        return merged, write_if_changed(path, merged.to_json().encode())


def check_fields(lock: Lock, where: str = "emtk3s.lock") -> None:
    """Every field of a lock read from disk, with the patterns release.toml's values meet: a
    hand-edited or hostile lock cannot carry a value into a spec, a URL or a command line.
    Raises InputError naming the field."""
    w = f"{where}:"
    if not isinstance(lock.release_digest, str) or not (
        lock.release_digest == "" or checks.is_sha256(lock.release_digest)
    ):
        raise InputError(
            f"{w} release_digest {lock.release_digest!r} is not a sha256", "re-resolve"
        )
    checks.tag(lock.k3s, f"{w} k3s")
    for key, c in lock.components.items():
        checks.package_name(key)
        if c.name != key:
            raise InputError(f"{w} component {key!r} is named {c.name!r}", "re-resolve")
        checks.repo(c.repo, f"{w} {key}.repo")
        if c.commit_time is not None and (
            isinstance(c.commit_time, bool)
            or not isinstance(c.commit_time, int)
            or not 0 <= c.commit_time <= MAX_EPOCH
        ):
            raise InputError(f"{w} {key}.commit_time is not a timestamp", "re-resolve")
        if not isinstance(c.facts, Mapping):
            raise InputError(f"{w} {key}.facts is not a table", "re-resolve")
        checks.facts(c.facts, f"{w} {key}.facts")
    for key, p in lock.packages.items():
        if p.name != key:
            raise InputError(f"{w} package {key!r} is named {p.name!r}", "re-resolve")
        checks.rpm_version(p.version, f"{w} {key}.version")
        if p.component not in lock.components:
            raise InputError(f"{w} {key}.component {p.component!r} is not in the lock", "")
        if not isinstance(p.sources, list | tuple):
            raise InputError(f"{w} {key}.sources is not a list", "re-resolve")
        for ref, digests in p.image_digests.items():
            if not isinstance(ref, str) or not IMAGE_REF.fullmatch(ref):
                raise InputError(f"{w} {key}.image_digests: {ref!r} is not an image reference", "re-pin with emtk3s pin-images")  # fmt: skip
            for arch, digest in digests.items():
                if arch not in IMAGE_ARCHES or not (
                    isinstance(digest, str) and MANIFEST_DIGEST.fullmatch(digest)
                ):
                    raise InputError(f"{w} {key}.image_digests {ref} {arch}: {digest!r} is not a sha256 manifest digest of amd64 or arm64", "re-pin with emtk3s pin-images")  # fmt: skip
        for s in p.sources:
            if not s.generated:
                checks.mirror_path(s.path, f"{w} {key}/{s.name} path")
            checks.size(s.size, f"{w} {key}/{s.name} size")
            checks.origin(s.origin, f"{w} {key}/{s.name} origin")
