"""A sha256-addressed cache. An entry is only ever created by rename after verification; a
corrupt entry is moved aside, never served.

Verifying an entry costs a full read of it; a no-op run with a gigabyte of sources would spend
its time re-reading bytes already proven. So when an entry is verified, the file's stat record
(device, inode, size, mtime_ns, ctime_ns) is written beside it, and later uses trust the entry
while its record still matches: entries are only created by rename and never written in place,
and any write to the file (even one that restores the size and the mtime) moves its ctime,
which no process can set back short of changing the clock. A changed record means a full
rehash, and on mismatch the quarantine. ``Cache.verify`` (``--verify``, and ``--locked`` as CI
uses it) ignores every record and rehashes everything once per run. :func:`trust_record` and
:func:`still_verified` are the same test for other verified outputs (SRPMs and RPMs in their
stamps).

A record must never vouch for bytes a crash can still take away (data not yet on disk can come
back as zeros under the same size and times). Rather than fsync every download (the disk's
durable bandwidth, not the network, then bounds a fetch), each record is *sealed*: ``synced``
when the file was made durable before the record was taken, else ``boot:<boot id>``: it
vouches only within the boot it was taken in. A crash that loses page-cache data is a new boot,
so every such record is void after it and its file is rehashed once (and then made durable and
sealed ``synced``, an fsync that costs nothing for bytes already on disk). Where the boot
cannot be told (no /proc), files are made durable before they are recorded.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from emtk3s.infra.errors import IntegrityError
from emtk3s.infra.fsutil import file_lock

CHUNK = 1 << 20
# hashlib releases the GIL while it hashes a chunk: threads hash files in parallel.
HASH_JOBS = max(1, min(4, os.cpu_count() or 1))


def default_root() -> Path:
    env = os.environ.get("EMTK3S_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "emtk3s"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def sha256_files(paths: Sequence[Path], jobs: int = HASH_JOBS) -> list[str]:
    """sha256 of each file, several at once (in the order given)."""
    if len(paths) <= 1 or jobs <= 1:
        return [sha256_file(p) for p in paths]
    from concurrent.futures import ThreadPoolExecutor  # only when there is hashing to do

    with ThreadPoolExecutor(max_workers=min(jobs, len(paths))) as pool:
        return list(pool.map(sha256_file, paths))


# --- stat records -------------------------------------------------------------------------------
Record = list[int]  # [st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns]
#: a stat record and its seal (SYNCED or "boot:<boot id>"), as stamps and the cache keep it
Sealed = list[int | str]
SYNCED = "synced"
BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"


@functools.cache
def boot_id() -> str:
    """This boot's id (Linux), "" where it cannot be told."""
    try:
        with open(BOOT_ID_FILE, "rb") as fh:
            return fh.read().decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def make_durable(path: Path) -> None:
    """fsync ``path`` (cheap when its bytes are on disk already)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def trust_record(path: Path, current: Record | None = None, durable: bool = False) -> Sealed | None:
    """The sealed record that lets later runs trust ``path`` as it is now, unread.

    ``current``: its stat record, when the caller has just taken it. ``durable``: the file was
    fsynced (or rehashed from disk and fsynced: :func:`durable_record`); otherwise the record
    holds only for this boot, or, where the boot cannot be told, the file is fsynced first."""
    if not durable and not boot_id():
        make_durable(path)
        durable = True
    if current is None:
        current = stat_record(path)
    if current is None:
        return None
    return [*current, SYNCED if durable else f"boot:{boot_id()}"]


def durable_record(path: Path) -> Sealed | None:
    """fsync ``path``, then its record sealed ``synced``: for a file just verified by a full
    read, so that it is not read again after the next reboot."""
    try:
        make_durable(path)
    except OSError:
        return trust_record(path)
    return trust_record(path, durable=True)


def _seal_holds(seal: object) -> bool:
    return seal == SYNCED or (bool(boot_id()) and seal == f"boot:{boot_id()}")


def _unsealed(record: object) -> Record | None:
    """The stat record inside a sealed record whose seal still holds, else None (a record
    from another boot, from before seals, or not a record at all)."""
    if not isinstance(record, list) or len(record) != 6 or not _seal_holds(record[5]):
        return None
    ident = record[:5]
    if not all(isinstance(x, int) for x in ident):
        return None
    return ident


def stat_record(path: Path) -> Record | None:
    """The file's identity and change times, or None when it is not a regular file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def still_verified(path: Path, record: object, verify: bool = False) -> bool:
    """True when ``path`` is the very file that was verified when the sealed ``record`` was
    taken, the seal still holds, and full verification was not asked for: trust it unread."""
    ident = None if verify else _unsealed(record)
    return ident is not None and stat_record(path) == ident


class Cache:
    def __init__(self, root: Path | None = None, verify: bool | None = None) -> None:
        self.root = (root or default_root()).resolve()
        # True: ignore stat records, rehash every entry (once per run)
        if verify is None:
            verify = os.environ.get("EMTK3S_VERIFY", "") not in ("", "0")
        self.verify = verify
        self._seen: dict[str, Record] = {}  # verified by this process: sha -> stat record
        self._sizes: dict[str, int] = {}  # sizes has_all saw (a hit needs no second stat)
        self._records_dir = os.path.join(self.root, "verified")
        self._dirs: set[Path] = set()  # directories this process made or found (one mkdir each)
        #: every entry this process looked up: sha -> the stat record it trusted or verified
        #: (None: absent). A run memo (emtk3s.infra.runmemo) covers exactly these files.
        self.consulted: dict[str, Record | None] = {}

    # layout -------------------------------------------------------------------------------
    def blob_path(self, sha: str) -> Path:
        return self.root / "blobs" / "sha256" / sha[:2] / sha

    def record_path(self, sha: str) -> Path:
        return self.root / "verified" / sha[:2] / sha

    @property
    def partial_dir(self) -> Path:
        return self.root / "partial"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    def lock_for(self, key: str) -> Path:
        return self.root / "locks" / f"{key}.lock"

    # stat records -------------------------------------------------------------------------
    def _load_record(self, sha: str) -> Record | None:
        """The entry's stat record, while its seal holds (else None: rehash)."""
        # plain strings, not pathlib: a no-op reads one record per cached source
        try:
            with open(os.path.join(self._records_dir, sha[:2], sha), "rb") as fh:
                words = fh.read().decode("ascii").split()
            sealed: list[int | str] = [int(x) for x in words[:5]] + words[5:]
        except (OSError, ValueError):
            return None
        return _unsealed(sealed)

    def _mkdir(self, path: Path) -> None:
        if path not in self._dirs:
            path.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path)

    def _save_record(self, sha: str, record: Sealed) -> None:
        """Write the record in place (no temporary file: one file creation fewer per download).
        A record torn by a crash or by a concurrent writer parses as nothing or names no file
        that exists, so it is never trusted: the entry is rehashed."""
        self._seen[sha] = [int(x) for x in record[:5]]
        path = self.record_path(sha)
        text = (" ".join(map(str, record)) + "\n").encode()
        try:  # the same record again (a --verify run that found nothing changed): no write
            with open(path, "rb") as fh:
                if fh.read() == text:
                    return
        except OSError:
            pass
        try:
            self._mkdir(path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                os.write(fd, text)
            finally:
                os.close(fd)
        except OSError:  # a read-only cache still works, it just rehashes
            with contextlib.suppress(OSError):
                path.unlink()

    def _trusted(self, sha: str, current: Record) -> bool:
        """Whether the entry whose stat record is now ``current`` is the one verified."""
        record = self._seen.get(sha)
        if record is not None:  # verified earlier in this run (with or without --verify)
            return current == record
        return not self.verify and self._load_record(sha) == current

    def size(self, sha: str) -> int:
        """The size of a present entry (as :meth:`has_all` saw it, else from a stat)."""
        known = self._sizes.get(sha)
        return known if known is not None else self.blob_path(sha).stat().st_size

    # entries ------------------------------------------------------------------------------
    def has(self, sha: str, name: str = "") -> bool:
        """True when a verified entry exists; a corrupt entry is quarantined and IntegrityError
        raised, so a changed byte on disk can never be used."""
        return self.has_all([(sha, name)])[0]

    def has_all(self, entries: Sequence[tuple[str, str]]) -> list[bool]:
        """:meth:`has` for many entries, hashing the ones that need it several at once. Every
        entry is checked; the first corrupt one is then raised."""
        present: list[bool] = []
        todo: list[tuple[str, str, Path, Record]] = []
        for sha, name in entries:
            path = self.blob_path(sha)
            before = stat_record(path)
            self.consulted[sha] = before
            present.append(before is not None)
            if before is None:
                continue
            self._sizes[sha] = before[2]
            if not self._trusted(sha, before):
                todo.append((sha, name, path, before))
        error: IntegrityError | None = None
        for (sha, name, path, before), actual in zip(
            todo, sha256_files([t[2] for t in todo]), strict=True
        ):
            if actual == sha:
                if stat_record(path) == before:  # not changed while we read it
                    sealed = durable_record(path)
                    if sealed is not None and sealed[:5] == before:
                        self._save_record(sha, sealed)
                continue
            self._seen.pop(sha, None)
            self._sizes.pop(sha, None)
            self.consulted[sha] = None
            with contextlib.suppress(OSError):
                self.record_path(sha).unlink()
            kept = self.quarantine(path, name or sha, actual)
            error = error or IntegrityError(
                f"cache entry for {name or sha} is corrupt: expected sha256 {sha}, found {actual}",
                f"moved aside to {kept}; run the command again to download it anew",
            )
        if error is not None:
            raise error
        return present

    def get(self, sha: str, name: str = "") -> Path:
        if not self.has(sha, name):
            raise IntegrityError(
                f"{name or sha} (sha256 {sha}) is not in the cache {self.root}",
                "run emtk3s fetch",
            )
        return self.blob_path(sha)

    def add_file(
        self, tmp: Path, expected: str | None, name: str, actual: str | None = None
    ) -> str:
        """Move a downloaded temp file into the cache after checking its hash.

        ``actual``: the sha256 the caller computed while writing ``tmp`` itself (a download
        hashed as it streamed), so the bytes are not read a second time. ``tmp`` need not be
        fsynced: its record is sealed to this boot (module docstring).
        A mismatch keeps the bytes in quarantine and raises IntegrityError naming both hashes.
        """
        if actual is None:
            actual = sha256_file(tmp)
        if expected is not None and actual != expected:
            kept = self.quarantine(tmp, name, actual)
            raise IntegrityError(
                f"{name}: sha256 mismatch: expected {expected}, got {actual}",
                f"the bytes are kept aside in {kept} and not used; check the mirror or the lock",
            )
        dest = self.blob_path(actual)
        self._mkdir(dest.parent)
        # 0644, the mode rpmbuild and rpmlint expect of a source: the srpm stage links to the
        # entry instead of copying it. Integrity never rested on the mode (root ignores it):
        # any write moves the ctime in the stat record, and the entry is rehashed.
        os.chmod(tmp, 0o644)
        hashed = stat_record(tmp)
        os.replace(tmp, dest)
        record = stat_record(dest)  # rename moves ctime; inode, size and mtime stay
        if hashed is not None and record is not None and hashed[:4] == record[:4]:
            sealed = trust_record(dest, record)
            if sealed is not None:
                self._save_record(actual, sealed)
        return actual

    def add_bytes(self, data: bytes, expected: str | None, name: str) -> str:
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        sha = hashlib.sha256(data).hexdigest()
        tmp = tmp_dir / f"{os.getpid()}-{sha[:16]}"
        with open(tmp, "wb") as fh:
            fh.write(data)
        with file_lock(self.lock_for(sha)):
            return self.add_file(tmp, expected, name, actual=sha)

    def quarantine(self, path: Path, name: str, actual: str) -> Path:
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "+-_." else "_" for c in name)
        dest = self.quarantine_dir / f"{safe}.{actual[:16]}"
        os.replace(path, dest)
        return dest
