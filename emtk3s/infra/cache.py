"""A sha256-addressed cache. An entry is only ever created by rename after verification; a
corrupt entry is moved aside, never served.

Verifying an entry costs a full read of it; a no-op run with a gigabyte of sources would spend its
time re-reading bytes already proven. So when an entry is verified, the file's stat record (device,
inode, size, mtime_ns, ctime_ns) is appended to the cache's record log (``verified.log``, one line
per record, the last line for an entry wins), and later uses trust the entry while its record still
matches: entries are only created by rename and never written in place, and any write to the file
(even one that restores the size and the mtime) moves its ctime, which no process can set back
short of changing the clock. A changed record means a full rehash, and on mismatch the quarantine.
``Cache.verify`` (``--verify``, and ``--locked`` as CI uses it) ignores every record and rehashes
everything once per run. :func:`trust_record` and :func:`still_verified` are the same test for
other verified outputs (SRPMs and RPMs in their stamps).

A record must never vouch for bytes a crash can still take away (data not yet on disk can come
back as zeros under the same size and times). Rather than fsync every download (the disk's
durable bandwidth, not the network, then bounds a fetch), each record is *sealed*: ``synced``
when the file was made durable before the record was taken, else ``boot:<boot id>``: it
vouches only within the boot it was taken in. A crash that loses page-cache data is a new boot,
so every such record is void after it and its file is rehashed once (and then made durable and
sealed ``synced``, an fsync that costs nothing for bytes already on disk). Where the boot
cannot be told (no /proc), files are made durable before they are recorded.

Layout. Entries live flat in ``blobs/sha256/<sha256>``, as an OCI content store keeps them
(containerd's ``io.containerd.content.v1.content/blobs/sha256``): a fan-out of 256
subdirectories cost a fresh cache 256 ``mkdir``s, and ext4's hashed directories find a name
among a hundred thousand as fast as among a hundred. An entry of the older fan-out layout
(``blobs/sha256/<aa>/<sha256>``) is moved into place the first time it is looked up (and
rehashed once: the move changes its ctime).

The record log. One file for every record, not one file per entry: a small download then
creates one inode (its own), not two (a file creation is most of what a 50 kB download costs on
a journaling disk). Each record is one ``write(2)`` of one line with ``O_APPEND``, so concurrent
writers never tear each other's lines on a local filesystem; a line that does not parse in full
(torn by a crash, garbled on a network filesystem) is skipped, and its entry is rehashed. A line
``<sha256> -`` drops the entry's record (the entry was quarantined). The log is read once per
process; when it holds more than twice the lines it has entries (after reboots, every entry is
rehashed and recorded anew), it is rewritten compacted (temporary file, rename). A record lost
to a concurrent compaction only costs a rehash: losing a record is always safe, and no line can
vouch for a file other than the one whose identity it names.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import stat
import threading
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path

from emtk3s.infra.errors import IntegrityError
from emtk3s.infra.fsutil import file_lock

CHUNK = 1 << 20
# hashlib releases the GIL while it hashes a chunk: threads hash files in parallel.
HASH_JOBS = max(1, min(4, os.cpu_count() or 1))
StrPath = str | os.PathLike[str]


def default_root() -> Path:
    env = os.environ.get("EMTK3S_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "emtk3s"


def sha256_file(path: StrPath) -> str:
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def sha256_files(paths: Sequence[StrPath], jobs: int = HASH_JOBS) -> list[str]:
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
#: the record log in the cache's root, and one line of it: ``<sha256> <5 integers> <seal>`` or
#: ``<sha256> -`` (the entry's record dropped)
RECORD_LOG = "verified.log"
_RECORD_LINE = re.compile(
    rb"([0-9a-f]{64}) (?:(\d{1,20}) (\d{1,20}) (\d{1,20}) (-?\d{1,20}) (-?\d{1,20}) "
    rb"(synced|boot:[0-9a-f-]{1,64})|(-))\n"
)
#: the log is compacted when it has more than twice as many lines as records, plus this many
COMPACT_SLACK = 1024


@functools.cache
def boot_id() -> str:
    """This boot's id (Linux), "" where it cannot be told."""
    try:
        with open(BOOT_ID_FILE, "rb") as fh:
            return fh.read().decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def make_durable(path: StrPath) -> None:
    """fsync ``path`` (cheap when its bytes are on disk already)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def trust_record(
    path: StrPath, current: Record | None = None, durable: bool = False
) -> Sealed | None:
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


def durable_record(path: StrPath) -> Sealed | None:
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


def stat_record(path: StrPath | int) -> Record | None:
    """The file's (a path's, or an open file descriptor's) identity and change times, or None
    when it is not a regular file."""
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


def read_records(log: StrPath) -> tuple[dict[str, Sealed], int]:
    """The records a log holds (the last line for an entry wins, a ``-`` line drops it; a line
    that does not parse in full is skipped), and how many lines it has."""
    try:
        with open(log, "rb") as fh:
            data = fh.read()
    except OSError:
        return {}, 0
    records: dict[str, Sealed] = {}
    lines = data.splitlines(keepends=True)
    for line in lines:
        m = _RECORD_LINE.fullmatch(line)
        if m is None:
            continue
        sha = m[1].decode()
        if m[8]:
            records.pop(sha, None)
        else:
            records[sha] = [*(int(m[i]) for i in range(2, 7)), m[7].decode()]
    return records, len(lines)


class Cache:
    def __init__(self, root: Path | None = None, verify: bool | None = None) -> None:
        self.root = (root or default_root()).resolve()
        # True: ignore stat records, rehash every entry (once per run)
        if verify is None:
            verify = os.environ.get("EMTK3S_VERIFY", "") not in ("", "0")
        self.verify = verify
        self._seen: dict[str, Record] = {}  # verified by this process: sha -> stat record
        self._sizes: dict[str, int] = {}  # sizes has_all saw (a hit needs no second stat)
        # plain strings, not pathlib, on the paths every entry takes (a Path costs more to make
        # than the stat it is made for)
        self._blobs = os.path.join(self.root, "blobs", "sha256")
        self._log = os.path.join(self.root, RECORD_LOG)
        self._records: dict[str, Sealed] | None = None  # the log as read (and written) by us
        self._records_lock = threading.Lock()
        self._log_fd: int | None = None  # opened for appending at the first record written
        self._batch: list[str] | None = None  # lines held back by batch()
        self._dirs: set[str] = set()  # directories this process made or found (one mkdir each)
        # a cache written by emtk3s before the flat layout (it kept records in verified/): its
        # entries may still be in the fan-out (see _adopt_legacy)
        self._legacy = os.path.isdir(os.path.join(self.root, "verified"))
        #: every entry this process looked up: sha -> the stat record it trusted or verified
        #: (None: absent). A run memo (emtk3s.infra.runmemo) covers exactly these files.
        self.consulted: dict[str, Record | None] = {}

    # layout -------------------------------------------------------------------------------
    def blob_path(self, sha: str) -> Path:
        return Path(self._blob(sha))

    def _blob(self, sha: str) -> str:
        """:meth:`blob_path` as a string (the form the per-entry hot paths take)."""
        return os.path.join(self._blobs, sha)

    def legacy_blob_path(self, sha: str) -> Path:
        """Where the fan-out layout of emtk3s before 2026-12 kept the entry."""
        return Path(self._blobs, sha[:2], sha)

    @property
    def records_path(self) -> Path:
        """The record log (module docstring)."""
        return Path(self._log)

    @property
    def partial_dir(self) -> Path:
        return self.root / "partial"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    def lock_for(self, key: str) -> Path:
        return self.root / "locks" / f"{key}.lock"

    # stat records -------------------------------------------------------------------------
    def _all_records(self) -> dict[str, Sealed]:
        """The record log, read once per process (and compacted when it has grown)."""
        with self._records_lock:
            if self._records is None:
                self._records, lines = read_records(self._log)
                if lines > 2 * len(self._records) + COMPACT_SLACK:
                    self._compact(self._records)
            return self._records

    def record_of(self, sha: str) -> Sealed | None:
        """The entry's sealed record as the log holds it now (read afresh; seal unchecked)."""
        return read_records(self._log)[0].get(sha)

    def _load_record(self, sha: str) -> Record | None:
        """The entry's stat record, while its seal holds (else None: rehash)."""
        return _unsealed(self._all_records().get(sha))

    def _append(self, line: str) -> None:
        """Lines onto the log: one write(2) with O_APPEND (never torn by another writer).
        The log stays open for the life of this object (one system call a record, not three).
        A read-only cache still works: it just rehashes next time."""
        if self._batch is not None:
            self._batch.append(line)
            return
        fd = self._log_fd
        if fd is None:
            with self._records_lock:
                fd = self._log_fd = self._log_fd or self._open_log()
            if fd is None:
                return
        try:
            os.write(fd, line.encode("ascii"))
        except OSError:
            pass

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the records written meanwhile (by any thread) and append them in one write at
        the end: a thousand small downloads then cost one system call for their records, not
        a thousand. Records a crash keeps from the log are only missing: their entries are
        rehashed once. This process sees them at once."""
        if self._batch is not None:  # nested: the outer one writes
            yield
            return
        self._batch = []
        try:
            yield
        finally:
            lines, self._batch = self._batch, None
            if lines:
                self._append("".join(lines))

    def _open_log(self) -> int | None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        try:
            try:
                fd = os.open(self._log, flags, 0o644)
            except FileNotFoundError:  # the cache's root is new
                os.makedirs(self.root, exist_ok=True)
                fd = os.open(self._log, flags, 0o644)
        except OSError:
            return None
        weakref.finalize(self, os.close, fd)
        return fd

    def _compact(self, records: dict[str, Sealed]) -> None:
        """Rewrite the log with one line per record (a temporary file, then a rename)."""
        tmp = f"{self._log}.{os.getpid()}.{threading.get_ident()}.tmp"
        text = "".join(f"{sha} {' '.join(map(str, r))}\n" for sha, r in records.items())
        try:
            with open(tmp, "w", encoding="ascii") as fh:
                fh.write(text)
            os.replace(tmp, self._log)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def _save_record(self, sha: str, record: Sealed) -> None:
        """Record ``sha``'s entry as verified (nothing is written when the log already holds
        this very record: a --verify run that found nothing changed)."""
        self._seen[sha] = [int(x) for x in record[:5]]
        records = self._all_records()
        if records.get(sha) == record:
            return
        records[sha] = list(record)
        self._append(f"{sha} {' '.join(map(str, record))}\n")

    def drop_record(self, sha: str) -> None:
        """Forget the entry's record: it is rehashed at its next use."""
        self._seen.pop(sha, None)
        self._all_records().pop(sha, None)
        self._append(f"{sha} -\n")  # rare (a quarantine): whether or not a record was there

    def _mkdir(self, path: str) -> None:
        if path not in self._dirs:
            os.makedirs(path, exist_ok=True)
            self._dirs.add(path)

    def _trusted(self, sha: str, current: Record) -> bool:
        """Whether the entry whose stat record is now ``current`` is the one verified."""
        record = self._seen.get(sha)
        if record is not None:  # verified earlier in this run (with or without --verify)
            return current == record
        return not self.verify and self._load_record(sha) == current

    def size(self, sha: str) -> int:
        """The size of a present entry (as :meth:`has_all` saw it, else from a stat)."""
        known = self._sizes.get(sha)
        return known if known is not None else os.stat(self._blob(sha)).st_size

    # entries ------------------------------------------------------------------------------
    def has(self, sha: str, name: str = "") -> bool:
        """True when a verified entry exists; a corrupt entry is quarantined and IntegrityError
        raised, so a changed byte on disk can never be used."""
        return self.has_all([(sha, name)])[0]

    def has_all(self, entries: Sequence[tuple[str, str]]) -> list[bool]:
        """:meth:`has` for many entries, hashing the ones that need it several at once. Every
        entry is checked; the first corrupt one is then raised."""
        present: list[bool] = []
        todo: list[tuple[str, str, str, Record]] = []
        for sha, name in entries:
            path = self._blob(sha)
            before = stat_record(path)
            if before is None and self._legacy:
                before = self._adopt_legacy(sha, path)
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
            self.drop_record(sha)
            kept = self.quarantine(Path(path), name or sha, actual)
            error = error or IntegrityError(
                f"cache entry for {name or sha} is corrupt: expected sha256 {sha}, found {actual}",
                f"moved aside to {kept}; run the command again to download it anew",
            )
        if error is not None:
            raise error
        return present

    def _adopt_legacy(self, sha: str, path: str) -> Record | None:
        """An entry of the fan-out layout, moved to its flat path (its record no longer holds:
        the move changes its ctime, so it is rehashed once); None when there is none."""
        try:
            os.rename(self.legacy_blob_path(sha), path)
        except OSError:
            pass  # none (the usual miss), or another process moved it first
        return stat_record(path)

    def get(self, sha: str, name: str = "") -> Path:
        if not self.has(sha, name):
            raise IntegrityError(
                f"{name or sha} (sha256 {sha}) is not in the cache {self.root}",
                "run emtk3s fetch",
            )
        return self.blob_path(sha)

    def add_file(
        self,
        tmp: Path,
        expected: str | None,
        name: str,
        actual: str | None = None,
        fd: int | None = None,
        mode: int | None = None,
    ) -> str:
        """Move a downloaded temp file into the cache after checking its hash.

        ``actual``: the sha256 the caller computed while writing ``tmp`` itself (a download
        hashed as it streamed), so the bytes are not read a second time. ``fd``: ``tmp`` open,
        when the caller holds it so (its identity is then read from it, not from the paths),
        and ``mode`` its permission bits, when the caller knows them.
        ``tmp`` need not be fsynced: its record is sealed to this boot (module docstring).
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
        dest = self._blob(actual)
        self._mkdir(self._blobs)
        # 0644, the mode rpmbuild and rpmlint expect of a source: the srpm stage links to the
        # entry instead of copying it. Integrity never rested on the mode (root ignores it):
        # any write moves the ctime in the stat record, and the entry is rehashed.
        if fd is None:
            os.chmod(tmp, 0o644)
            hashed = stat_record(tmp)
            os.replace(tmp, dest)
            record = stat_record(dest)  # rename moves ctime; inode, size and mtime stay
            if hashed is None or record is None or hashed[:4] != record[:4]:
                record = None  # not the file that was hashed: no record
        else:
            if mode != 0o644:
                os.fchmod(fd, 0o644)
            os.replace(tmp, dest)
            # taken from the open file, the record names the inode we hashed even if another
            # process replaced ``dest`` meanwhile: it then matches nothing there, and that
            # entry is rehashed
            record = stat_record(fd)
        if record is not None:
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
