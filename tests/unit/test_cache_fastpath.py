"""The stat-keyed fast path of the cache: a verified entry is trusted while its (device, inode,
size, mtime_ns, ctime_ns) match the record taken when it was verified, and any write to it,
even one that keeps the size and puts the mtime back, sends it through a full rehash."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from emtk3s.infra import cache as cachemod
from emtk3s.infra.cache import Cache, sha256_files, stat_record, still_verified, trust_record
from emtk3s.infra.errors import IntegrityError


def _add(cache: Cache, data: bytes) -> tuple[str, Path]:
    sha = cache.add_bytes(data, None, "src.tar.gz")
    return sha, cache.blob_path(sha)


def _append(cache: Cache, sha: str, record: list[int | str]) -> None:
    """A line onto the record log, as any process that can write the cache could add one."""
    with open(cache.records_path, "a", encoding="ascii") as fh:
        fh.write(f"{sha} {' '.join(map(str, record))}\n")


def _rewrite_same_size_same_mtime(path: Path, data: bytes) -> None:
    st = path.stat()
    path.chmod(0o644)
    time.sleep(0.01)  # a coarse clock still moves ctime between the two writes
    path.write_bytes(data)
    path.chmod(0o444)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def test_changed_blob_with_same_size_and_restored_mtime_is_caught(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    good = os.urandom(4096)
    sha, blob = _add(cache, good)
    assert cache.record_of(sha) is not None, "adding an entry records its stat"
    assert Cache(tmp_path / "c").has(sha, "src.tar.gz")
    evil = bytearray(good)
    evil[100] ^= 1
    _rewrite_same_size_same_mtime(blob, bytes(evil))
    fresh = Cache(tmp_path / "c")  # a later run
    with pytest.raises(IntegrityError, match="corrupt") as exc:
        fresh.has(sha, "src.tar.gz")
    assert hashlib.sha256(bytes(evil)).hexdigest() in exc.value.message
    assert not blob.exists(), "the corrupt entry is moved aside"
    assert cache.record_of(sha) is None, "and its record dropped"
    assert [p.read_bytes() for p in (tmp_path / "c" / "quarantine").iterdir()] == [bytes(evil)]


def test_matching_record_is_trusted_unread_and_verify_rehashes(tmp_path: Path) -> None:
    # Forge the case the fast path exists for: a record that matches the file's stat. The run
    # trusts it without reading the bytes (here wrong ones); --verify reads them and refuses.
    cache = Cache(tmp_path / "c")
    sha, blob = _add(cache, b"verified bytes\n")
    blob.chmod(0o644)
    blob.write_bytes(b"other bytes!!!\n")
    _append(cache, sha, trust_record(blob) or [])
    assert Cache(tmp_path / "c").has(sha), "a matching stat record is trusted without a read"
    with pytest.raises(IntegrityError, match="corrupt"):
        Cache(tmp_path / "c", verify=True).has(sha)
    assert not blob.exists()


def test_env_verify_and_once_per_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = Cache(tmp_path / "c")
    sha, blob = _add(cache, b"x" * 1000)
    monkeypatch.setenv("EMTK3S_VERIFY", "1")
    run = Cache(tmp_path / "c")
    assert run.verify
    assert run.has(sha)  # rehashed
    # verified once in this run: a second use in the same run trusts the stat it just took...
    current = stat_record(blob)
    assert current is not None and run._trusted(sha, current)
    # ...and still notices a change made since
    _rewrite_same_size_same_mtime(blob, b"y" * 1000)
    with pytest.raises(IntegrityError):
        run.has(sha)


def test_missing_record_or_entry(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    sha, blob = _add(cache, b"abc")
    cache.drop_record(sha)
    assert cache.record_of(sha) is None
    again = Cache(tmp_path / "c")
    assert again.has_all([(sha, "a"), ("0" * 64, "b")]) == [True, False]
    assert cache.record_of(sha) is not None, "a successful rehash writes the record back"


def test_has_all_checks_every_entry_then_raises(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    entries = [_add(cache, os.urandom(70000)) for _ in range(4)]
    for _sha, blob in entries[1:3]:
        _rewrite_same_size_same_mtime(blob, os.urandom(70000))
    with pytest.raises(IntegrityError):
        Cache(tmp_path / "c").has_all([(sha, sha[:6]) for sha, _ in entries])
    assert [b.exists() for _, b in entries] == [True, False, False, True]


def test_still_verified_and_parallel_hashes(tmp_path: Path) -> None:
    files = []
    for i in range(5):
        f = tmp_path / f"f{i}"
        f.write_bytes(os.urandom(100000 + i))
        files.append(f)
    assert sha256_files(files, jobs=3) == [
        hashlib.sha256(f.read_bytes()).hexdigest() for f in files
    ]
    rec = trust_record(files[0])
    assert still_verified(files[0], rec)
    assert not still_verified(files[0], stat_record(files[0])), (
        "an unsealed record vouches for nothing"
    )
    assert not still_verified(files[0], rec, verify=True)
    assert not still_verified(files[0], None)
    assert not still_verified(tmp_path, rec)
    os.utime(files[0])
    assert not still_verified(files[0], rec)


def _forge(cache: Cache, sha: str, blob: Path, seal: str) -> None:
    """A record of the blob as it is now, with the given seal."""
    _append(cache, sha, [*(stat_record(blob) or []), seal])


def test_record_sealed_to_another_boot_or_unsealed_is_not_trusted(tmp_path: Path) -> None:
    # what a crash can do: bytes lost (here: changed) under the same size and times, while the
    # record survived. A record sealed to the boot before the crash vouches for nothing.
    cache = Cache(tmp_path / "c")
    sha, blob = _add(cache, b"verified bytes\n")
    words = cache.record_of(sha) or []
    assert words[5] == f"boot:{cachemod.boot_id()}", (
        "a new entry (not fsynced) is bound to this boot"
    )
    blob.chmod(0o644)
    blob.write_bytes(b"zeroed bytes!!\n")
    for seal in ("boot:00000000-0000-0000-0000-000000000000", ""):  # another boot; no seal
        _forge(cache, sha, blob, seal)
        with pytest.raises(IntegrityError, match="corrupt"):
            Cache(tmp_path / "c").has(sha)
        assert not blob.exists()
        sha, blob = _add(cache, b"verified bytes\n")
        blob.chmod(0o644)
        blob.write_bytes(b"zeroed bytes!!\n")


def test_rehash_after_a_reboot_seals_the_record_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = Cache(tmp_path / "c")
    sha, blob = _add(cache, os.urandom(5000))
    before = cache.record_of(sha) or []
    # the next boot: another id in the file the kernel keeps it in
    other = tmp_path / "boot_id"
    other.write_text("11111111-2222-3333-4444-555555555555\n")
    monkeypatch.setattr(cachemod, "BOOT_ID_FILE", str(other))
    cachemod.boot_id.cache_clear()
    try:
        assert before[:5] == stat_record(blob) and not still_verified(blob, before)
        later = Cache(tmp_path / "c")
        assert later.has(sha)  # rehashed: the record from the last boot no longer holds
        words = cache.record_of(sha) or []
        assert words[5] == "synced" and words[:5] == stat_record(blob)
        # and from then on it is trusted in any boot, unread
        other.write_text("66666666-2222-3333-4444-555555555555\n")
        cachemod.boot_id.cache_clear()
        assert Cache(tmp_path / "c")._load_record(sha) == stat_record(blob)
    finally:
        cachemod.boot_id.cache_clear()


def test_no_boot_id_means_durable_before_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cachemod, "BOOT_ID_FILE", str(tmp_path / "absent"))
    cachemod.boot_id.cache_clear()
    try:
        cache = Cache(tmp_path / "c")
        sha, blob = _add(cache, b"abc")
        assert (cache.record_of(sha) or [])[5] == "synced"
        assert Cache(tmp_path / "c").has(sha)
    finally:
        cachemod.boot_id.cache_clear()


def test_record_log_last_line_wins_and_bad_lines_are_skipped(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    sha, blob = _add(cache, b"one entry\n")
    good = cache.record_of(sha)
    assert good is not None and good[:5] == stat_record(blob)
    log = cache.records_path
    whole = log.read_bytes()
    # what a crash or a network filesystem can leave: a line without its end, zeros, a line cut
    # in its seal and glued to the next one, an unknown seal, a short hash
    junk = [
        whole[:-1],
        b"\0" * 40 + b"\n",
        whole[:-8] + whole,
        f"{sha} 1 2 3 4 5 trusted-me\n".encode(),
        f"{sha[:63]} {' '.join(map(str, good))}\n".encode(),
    ]
    for bad in junk:
        log.write_bytes(bad)
        assert Cache(tmp_path / "c")._load_record(sha) is None, bad
        assert Cache(tmp_path / "c").has(sha), "an unrecorded entry is rehashed, not lost"
    # the last line for an entry wins; "-" drops it
    log.write_bytes(whole + f"{sha} -\n".encode())
    assert cache.record_of(sha) is None
    log.write_bytes(whole + f"{sha} -\n".encode() + whole)
    assert cache.record_of(sha) == good


def test_record_log_is_compacted_when_it_has_grown(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    sha, blob = _add(cache, b"entry\n")
    line = cache.records_path.read_bytes()
    stale = f"{'0' * 64} 1 2 3 4 5 synced\n{'0' * 64} -\n".encode() * 600
    cache.records_path.write_bytes(stale + line)
    assert Cache(tmp_path / "c").has(sha)  # reads the log: 1201 lines for one record
    assert cache.records_path.read_bytes() == line, "rewritten with one line per record"
    assert not list((tmp_path / "c").glob("verified.log.*")), "no temporary file left"


def test_concurrent_writers_never_tear_a_record(tmp_path: Path) -> None:
    """Eight processes adding entries at once: every record reaches the log whole."""
    import multiprocessing

    root = tmp_path / "c"
    Cache(root)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_add_many, args=(root, k)) for k in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    records, lines = cachemod.read_records(root / "verified.log")
    assert lines == len(records) == 8 * 60
    fresh = Cache(root)
    assert all(fresh._load_record(sha) == stat_record(fresh.blob_path(sha)) for sha in records)


def _add_many(root: Path, k: int) -> None:
    cache = Cache(root)
    for i in range(60):
        cache.add_bytes(f"{k}-{i}\n".encode() * 3, None, f"f{k}-{i}")


def test_entry_of_the_fan_out_layout_is_moved_in_and_rehashed(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    sha0, _blob = _add(cache, b"flat from the start\n")
    assert cache.blob_path(sha0).parent == tmp_path / "c" / "blobs" / "sha256"
    made = {p.name for p in (tmp_path / "c").iterdir()}
    assert "verified.log" in made and made <= {"tmp", "blobs", "verified.log", "locks"}
    data = os.urandom(3000)
    sha = hashlib.sha256(data).hexdigest()
    old = tmp_path / "c" / "blobs" / "sha256" / sha[:2] / sha
    old.parent.mkdir(parents=True)
    old.write_bytes(data)
    # the old layout's records (never read): what tells a cache of the old layout
    (tmp_path / "c" / "verified" / sha[:2]).mkdir(parents=True)
    assert not Cache(tmp_path / "new").has(sha)
    cache = Cache(tmp_path / "c")
    assert cache.has(sha) and cache.get(sha) == tmp_path / "c" / "blobs" / "sha256" / sha
    assert not old.exists() and cache.blob_path(sha).read_bytes() == data
    assert (cache.record_of(sha) or [])[5] == "synced", "rehashed once, then trusted"
    # a corrupt one is caught on the way in, like any entry
    bad = os.urandom(3000)
    sha2 = hashlib.sha256(bad).hexdigest()
    old2 = tmp_path / "c" / "blobs" / "sha256" / sha2[:2] / sha2
    old2.parent.mkdir(parents=True, exist_ok=True)
    old2.write_bytes(bad[::-1])
    with pytest.raises(IntegrityError, match="corrupt"):
        Cache(tmp_path / "c").has(sha2)
    assert not old2.exists() and not cache.blob_path(sha2).exists()
