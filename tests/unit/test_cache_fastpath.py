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
    assert cache.record_path(sha).is_file(), "adding an entry records its stat"
    assert Cache(tmp_path / "c").has(sha, "src.tar.gz")
    evil = bytearray(good)
    evil[100] ^= 1
    _rewrite_same_size_same_mtime(blob, bytes(evil))
    fresh = Cache(tmp_path / "c")  # a later run
    with pytest.raises(IntegrityError, match="corrupt") as exc:
        fresh.has(sha, "src.tar.gz")
    assert hashlib.sha256(bytes(evil)).hexdigest() in exc.value.message
    assert not blob.exists(), "the corrupt entry is moved aside"
    assert not cache.record_path(sha).exists(), "and its record dropped"
    assert [p.read_bytes() for p in (tmp_path / "c" / "quarantine").iterdir()] == [bytes(evil)]


def test_matching_record_is_trusted_unread_and_verify_rehashes(tmp_path: Path) -> None:
    # Forge the case the fast path exists for: a record that matches the file's stat. The run
    # trusts it without reading the bytes (here wrong ones); --verify reads them and refuses.
    cache = Cache(tmp_path / "c")
    sha, blob = _add(cache, b"verified bytes\n")
    blob.chmod(0o644)
    blob.write_bytes(b"other bytes!!!\n")
    cache.record_path(sha).write_text(" ".join(map(str, trust_record(blob) or [])) + "\n")
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
    cache.record_path(sha).unlink()
    again = Cache(tmp_path / "c")
    assert again.has_all([(sha, "a"), ("0" * 64, "b")]) == [True, False]
    assert cache.record_path(sha).is_file(), "a successful rehash writes the record back"


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
    cache.record_path(sha).write_text(" ".join(map(str, [*(stat_record(blob) or []), seal])) + "\n")


def test_record_sealed_to_another_boot_or_unsealed_is_not_trusted(tmp_path: Path) -> None:
    # what a crash can do: bytes lost (here: changed) under the same size and times, while the
    # record survived. A record sealed to the boot before the crash vouches for nothing.
    cache = Cache(tmp_path / "c")
    sha, blob = _add(cache, b"verified bytes\n")
    words = cache.record_path(sha).read_text().split()
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
    before = cache.record_path(sha).read_text()
    # the next boot: another id in the file the kernel keeps it in
    other = tmp_path / "boot_id"
    other.write_text("11111111-2222-3333-4444-555555555555\n")
    monkeypatch.setattr(cachemod, "BOOT_ID_FILE", str(other))
    cachemod.boot_id.cache_clear()
    try:
        words = before.split()
        sealed = [int(w) for w in words[:5]] + words[5:]
        assert sealed[:5] == stat_record(blob) and not still_verified(blob, sealed)
        later = Cache(tmp_path / "c")
        assert later.has(sha)  # rehashed: the record from the last boot no longer holds
        words = cache.record_path(sha).read_text().split()
        assert words[5] == "synced" and [int(w) for w in words[:5]] == stat_record(blob)
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
        assert cache.record_path(sha).read_text().split()[5] == "synced"
        assert Cache(tmp_path / "c").has(sha)
    finally:
        cachemod.boot_id.cache_clear()
