"""The chroot backend's up-to-date path reads nothing it has read before: the worker chroot
tarball's sha256 is remembered under a sealed stat record (infra/cache.py), and any change to the
file (even one keeping its size and mtime) makes it read again. The local repository's index,
which needs real RPMs: tests/integration/test_chroot_repo_index.py."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from emtk3s.builders.chroot import tarball_sha256
from emtk3s.infra.cache import Cache


def _rewrite_keeping_size_and_mtime(path: Path, data: bytes) -> None:
    st = path.stat()
    time.sleep(0.01)
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_ctime_ns != st.st_ctime_ns


def test_tarball_hash_is_remembered_until_the_file_changes(tmp_path: Path) -> None:
    source = tmp_path / "worker_chroot.tar.gz"
    source.write_bytes(os.urandom(100_000))
    cache = Cache(tmp_path / "cache")
    real = hashlib.sha256(source.read_bytes()).hexdigest()
    assert tarball_sha256(source, cache) == real
    # trusted unread: a forged answer under a matching record is what comes back
    memo = next((cache.root / "chroots" / "by-path").iterdir())
    forged = json.loads(memo.read_text()) | {"sha256": "0" * 64}
    memo.write_text(json.dumps(forged))
    assert tarball_sha256(source, Cache(cache.root)) == "0" * 64
    assert tarball_sha256(source, Cache(cache.root, verify=True)) == real  # --verify reads it
    other = os.urandom(100_000)
    _rewrite_keeping_size_and_mtime(source, other)
    assert tarball_sha256(source, Cache(cache.root)) == hashlib.sha256(other).hexdigest()
