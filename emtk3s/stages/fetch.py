"""fetch: every source in the lock, into the cache; pins what the lock left unpinned.

Downloads run first (in parallel); then each package's generated sources (vendor tarballs,
a recipe's downloads) are made from the package's verified inputs, cached and pinned. Each pin
is merged into the lock file as soon as its file is verified, so a failure later in the run
(another download, a vendor step without a new enough Go) keeps every pin made before it.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from emtk3s.infra.cache import Cache, sha256_file
from emtk3s.infra.errors import InputError, IntegrityError, LockedError
from emtk3s.infra.http import Download, Fetched, Policy, fetch_many
from emtk3s.model import lock as lockmod
from emtk3s.model import package as pkgs
from emtk3s.model.lock import Lock, Pin, Source
from emtk3s.model.release import Release
from emtk3s.stages.context import StageRun


@dataclass
class FetchResult:
    JSON_EXTRA: ClassVar[tuple[str, ...]] = ("downloaded", "cached", "files")

    fetched: list[Fetched] = field(default_factory=list, metadata={"json": False})
    generated: list[str] = field(default_factory=list)  # made by this run
    missing: list[str] = field(default_factory=list)  # offline: not in the cache
    pinned: list[str] = field(default_factory=list)  # newly pinned by this fetch
    lock_changed: bool = field(default=False, metadata={"json": False})
    lock: Lock | None = field(default=None, metadata={"json": False})  # with the new pins

    @property
    def uncached(self) -> dict[str, str]:
        """Packages with sources not in the cache (offline), for the stages after fetch."""
        out: dict[str, str] = {}
        for m in self.missing:
            pkg, name = m.split("/", 1)
            out[pkg] = f"{out[pkg]}, {name}" if pkg in out else f"not in the cache: {name}"
        return out

    @property
    def downloaded(self) -> int:
        return sum(1 for f in self.fetched if f.downloaded)

    @property
    def cached(self) -> int:
        return sum(1 for f in self.fetched if not f.downloaded)

    @property
    def files(self) -> list[dict[str, Any]]:
        return [
            {"name": f.name, "sha256": f.sha256, "size": f.size, "downloaded": f.downloaded}
            for f in self.fetched
        ]


def _pin(
    src: Source, sha: str, size: int, origin: str, pname: str, locked: bool, result: FetchResult
) -> Pin | None:
    """The pin this fetch learnt for ``src`` (None when the lock knew it all already)."""
    pin = Pin(pname, src.name, sha, size, origin)
    if src.sha256 is None and locked:
        raise LockedError(
            f"{pin.what} is unpinned and --locked was given",
            "run emtk3s fetch without --locked to pin it, and review the lock diff",
        )
    if src.pinned_to(pin) == src:  # checks sha256 and size against the lock
        return None
    if src.sha256 is None:
        result.pinned.append(pin.what)
    return pin


def _check_sha512(cache: Cache, src: Source, f: Fetched, what: str) -> None:
    """A file the upstream pins only by sha512 (e.g. GNU tarballs' sha512 sums): verified
    before its sha256 is recorded; a mismatch moves the bytes to quarantine."""
    import hashlib

    path = cache.blob_path(f.sha256)
    h = hashlib.sha512()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != src.sha512:
        kept = cache.quarantine(path, src.name, sha256_file(path))
        raise IntegrityError(
            f"{what}: sha512 mismatch: the upstream records {src.sha512}, got {h.hexdigest()}",
            f"the bytes are kept aside in {kept} and not used; check the mirror",
        )


def _generate(
    release: Release,
    lock: Lock,
    cache: Cache,
    pname: str,
    src: Source,
    locked: bool,
    result: FetchResult,
) -> Pin | None:
    what = f"{pname}/{src.name}"
    if src.sha256 is not None and cache.has(src.sha256, src.name):
        return None
    from emtk3s.emt import pin as record_pin

    if src.sha256 is not None and record_pin.emt_name(src.origin):
        _from_emt_server(release, cache, src, what, record_pin.emt_name(src.origin))
        return None
    pdef = release.catalog.packages.get(pname)
    comp = lock.components[lock.packages[pname].component]
    rule = pdef.rule_for(src.name, comp) if pdef else None
    if rule is None or rule.generate is None:
        raise InputError(f"{what}: no maker for this generated source", "re-run emtk3s resolve")
    from emtk3s.infra.tarballs import PACKER  # what generated tarballs' bytes depend on

    inputs = {
        s.name: cache.get(s.sha256, s.name)
        for s in lock.packages[pname].sources
        if not s.generated and s.sha256 is not None
    }
    scratch = cache.root / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"gen-{pname}-", dir=scratch))
    try:
        ctx = pkgs.GenerateContext(
            release, lock.components, inputs, work, cache.root, src.origin if src.sha256 else ""
        )
        res = rule.generate(ctx)
        # a maker that names no origin packs with infra/tarballs: its bytes depend on zlib
        made, origin = res if isinstance(res, tuple) else (res, f"generated-{PACKER}")
        size = made.stat().st_size
        try:
            sha = cache.add_file(made, src.sha256, src.name)
        except IntegrityError as exc:
            packed = (
                f" (pinned as {src.origin}, made here as {origin})"
                if src.origin.startswith("generated-") and src.origin != origin
                else ""
            )
            raise IntegrityError(
                f"{what}: the generated file differs from the one the lock pins{packed}: "
                f"{exc.message}",
                "the maker is not reproducible here, or its inputs changed; compare with the lock",
            ) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.generated.append(what)
    return _pin(src, sha, size, origin, pname, locked, result)


def _from_emt_server(release: Release, cache: Cache, src: Source, what: str, name: str) -> None:
    """A generated source pinned from EMT's record: its bytes from EMT's source server under
    EMT's basename, the sha256 checked by the download, then its layout (a Go vendor tarball:
    a top-level vendor/ with vendor/modules.txt)."""
    from emtk3s.emt.pin import check_vendor_layout

    assert src.sha256 is not None
    url = f"{release.mirror('emt_sources')}/{name}"
    (f,) = fetch_many(
        cache,
        [
            Download(
                src.name,
                url,
                src.sha256,
                src.size,
                release.http_allowed("emt_sources"),
                "emt_sources",
            )
        ],
    )
    path = cache.get(f.sha256, src.name)
    wrong = check_vendor_layout(path)
    if wrong:
        kept = cache.quarantine(path, src.name, f.sha256)
        raise IntegrityError(
            f"{what} from {url}: {wrong}",
            f"the bytes are kept aside in {kept} and not used; check EMT's record ({src.origin})",
        )


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
) -> FetchResult:
    """Download (and make) the sources of the named packages. The lock value is not changed:
    what fetch learnt are pins, each merged into the lock file under its writer lock as soon as
    its file is verified (``result.lock`` is the merged lock)."""
    result = FetchResult(lock=lock)
    if locked:  # CI: every cached byte is rehashed, no stat record is trusted
        cache.verify = True
    wanted = packages or sorted(lock.packages)
    downloads: list[Download] = []
    seen: set[tuple[str, str]] = set()
    for pname in wanted:
        if pname not in lock.packages:
            raise InputError(f"package {pname!r} is not in the lock", "run emtk3s resolve")
    if offline:  # check every pinned entry at once (hashing, where needed, in parallel)
        srcs = [(p, s) for p in wanted for s in lock.packages[p].sources]
        pinned = [(p, s) for p, s in srcs if s.sha256 is not None]
        have = cache.has_all([(s.sha256 or "", s.name) for _p, s in pinned])
        present = {id(s) for (_p, s), ok in zip(pinned, have, strict=True) if ok}
        result.missing = [f"{p}/{s.name}" for p, s in srcs if id(s) not in present]
        return result
    for pname in wanted:
        for src in lock.packages[pname].sources:
            if src.generated:
                continue
            key = (src.mirror, src.path)
            if key in seen:
                continue
            seen.add(key)
            url = release.mirror(src.mirror) + src.path
            downloads.append(
                Download(
                    src.name,
                    url,
                    src.sha256,
                    src.size,
                    release.http_allowed(src.mirror),
                    mirror=src.mirror,
                )
            )
    # each download's pin is saved as soon as the file is verified: a later failure (another
    # download, the vendor step) keeps what was verified before it
    users: dict[str, list[tuple[str, Source]]] = {}
    for pname in wanted:
        for src in lock.packages[pname].sources:
            if not src.generated:
                users.setdefault(release.mirror(src.mirror) + src.path, []).append((pname, src))
    pins: list[Pin] = []

    def save(new: list[Pin]) -> None:
        pins.extend(new)
        if new and not locked:
            result.lock, changed = lockmod.save_pins(lock_path, new, release.catalog.mirrors)
            result.lock_changed = result.lock_changed or changed

    def verified(f: Fetched) -> None:
        new = []
        for pname, src in users.get(f.url, []):
            origin = "fetch"
            if src.sha512 is not None and (src.sha256 is None or f.downloaded):
                _check_sha512(cache, src, f, f"{pname}/{src.name}")
                origin = "fetch-sha512-verified"
            pin = _pin(src, f.sha256, f.size, origin, pname, locked, result)
            if pin is not None:
                new.append(pin)
        save(new)

    result.fetched = fetch_many(cache, downloads, policy, on_done=verified)
    # generated sources are made from the package's downloads as just pinned
    current = lock.with_pins(pins)
    for pname in wanted:
        for src in current.packages[pname].sources:
            if src.generated:
                pin = _generate(release, current, cache, pname, src, locked, result)
                if pin is not None:
                    save([pin])
    if locked or not pins:
        result.lock = lock.with_pins(pins)
    return result


NAME = "fetch"


def run(r: StageRun) -> FetchResult:
    o = r.options
    return fetch(
        r.release,
        r.need_lock(),
        r.project.cache,
        r.project.lock_file,
        packages=list(o.packages) or None,
        offline=o.offline,
        locked=o.locked,
        policy=o.policy,
    )
