"""fetch: every source in the lock, into the cache; pins what the lock left unpinned."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, IntegrityError, LockedError
from ..lock import Lock
from ..manifest import Release
from .cache import Cache
from .http import Download, Fetched, Policy, fetch_many


@dataclass
class FetchResult:
    fetched: list[Fetched] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # offline: not in the cache
    pinned: list[str] = field(default_factory=list)  # newly pinned by this fetch
    lock_changed: bool = False

    @property
    def downloaded(self) -> int:
        return sum(1 for f in self.fetched if f.downloaded)

    def to_dict(self) -> dict[str, Any]:
        return {
            "downloaded": self.downloaded,
            "cached": sum(1 for f in self.fetched if not f.downloaded),
            "missing": self.missing,
            "pinned": self.pinned,
            "files": [
                {"name": f.name, "sha256": f.sha256, "size": f.size, "downloaded": f.downloaded}
                for f in self.fetched
            ],
        }


def fetch(
    release: Release,
    lock: Lock,
    cache: Cache,
    lock_path: Path,
    *,
    packages: list[str] | None = None,
    offline: bool = False,
    locked: bool = False,
    policy: Policy | None = None,
    quiet: bool = False,
) -> FetchResult:
    result = FetchResult()
    wanted = packages or sorted(lock.packages)
    downloads: list[tuple[str, Download]] = []
    seen: set[tuple[str, str]] = set()
    for pname in wanted:
        if pname not in lock.packages:
            raise InputError(f"package {pname!r} is not in the lock", "run emtk3s resolve")
        for src in lock.packages[pname].sources:
            if offline:
                if src.sha256 is None or not cache.has(src.sha256, src.name):
                    result.missing.append(f"{pname}/{src.name}")
                continue
            key = (src.mirror, src.path)
            if key in seen:
                continue
            seen.add(key)
            url = release.mirror(src.mirror) + src.path
            dl = Download(src.name, url, src.sha256, src.size, release.http_allowed(src.mirror))
            downloads.append((pname, dl))
    if offline:
        return result
    result.fetched = fetch_many(cache, [d for _, d in downloads], policy, quiet=quiet)
    by_key = {(d.url, d.name): f for (_, d), f in zip(downloads, result.fetched, strict=True)}
    for pname in wanted:
        for src in lock.packages[pname].sources:
            f = by_key.get((release.mirror(src.mirror) + src.path, src.name))
            if f is None:
                continue
            if src.sha256 is None:
                if locked:
                    raise LockedError(
                        f"{pname}/{src.name} is unpinned and --locked was given",
                        "run emtk3s fetch without --locked to pin it, and review the lock diff",
                    )
                src.sha256, src.size, src.origin = f.sha256, f.size, "fetch"
                result.pinned.append(f"{pname}/{src.name}")
            elif src.size is None:
                src.size = f.size
            elif src.size != f.size:
                raise IntegrityError(f"{pname}/{src.name}: size differs from the lock", "")
    if not locked:
        result.lock_changed = lock.save(lock_path)
    return result
