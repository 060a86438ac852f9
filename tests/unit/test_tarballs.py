"""Deterministic tarballs and safe extraction (hostile archives refused before any write)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import random
import subprocess
import tarfile
import time
import zlib
from pathlib import Path

import pytest

from emtk3s.infra.errors import InputError
from emtk3s.infra.safetar import safe_extract
from emtk3s.infra.tarballs import BLOCK, PACKER, deterministic_tar, gzip_stream


def _tree(root: Path) -> None:
    (root / "b" / "c").mkdir(parents=True)
    (root / "a.txt").write_text("a\n")
    (root / "b" / "run.sh").write_text("#!/bin/sh\n")
    (root / "b" / "run.sh").chmod(0o700)
    (root / "b" / "c" / "z").write_bytes(b"\0" * 100)
    os.symlink("../a.txt", root / "b" / "link")


def test_same_tree_same_bytes_regardless_of_mtime_umask_and_order(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    _tree(one)
    old = os.umask(0o077)
    try:
        _tree(two)
    finally:
        os.umask(old)
    now = time.time()
    os.utime(two / "a.txt", (now, now))
    deterministic_tar(one, tmp_path / "1.tar.gz", "pkg-1.0", 1700000000)
    deterministic_tar(two, tmp_path / "2.tar.gz", "pkg-1.0", 1700000000)
    assert (tmp_path / "1.tar.gz").read_bytes() == (tmp_path / "2.tar.gz").read_bytes()
    with tarfile.open(tmp_path / "1.tar.gz") as tf:
        members = tf.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
    assert {m.mtime for m in members} == {1700000000}
    modes = {m.name: m.mode for m in members}
    assert modes["pkg-1.0/b/run.sh"] == 0o755 and modes["pkg-1.0/a.txt"] == 0o644
    # gzip header: no name, mtime 0 (like gzip -n)
    head = (tmp_path / "1.tar.gz").read_bytes()[:10]
    assert head[3] & 0x08 == 0 and head[4:8] == b"\0\0\0\0"


def test_every_mtime_is_set_when_the_commit_time_is_ahead_of_the_clock(tmp_path: Path) -> None:
    # #13.9: with --clamp-mtime, files older than the given time kept their own mtimes, so a
    # commit time ahead of the host clock gave a different tarball for every checkout.
    ahead = int(time.time()) + 10 * 365 * 86400
    one, two = tmp_path / "one", tmp_path / "two"
    _tree(one)
    _tree(two)
    for f in (two / "a.txt", two / "b" / "run.sh"):
        os.utime(f, (time.time() - 86400, time.time() - 86400))
    deterministic_tar(one, tmp_path / "1.tar.gz", "v", ahead)
    deterministic_tar(two, tmp_path / "2.tar.gz", "v", ahead)
    assert (tmp_path / "1.tar.gz").read_bytes() == (tmp_path / "2.tar.gz").read_bytes()
    with tarfile.open(tmp_path / "1.tar.gz") as tf:
        assert {m.mtime for m in tf.getmembers()} == {ahead}


def _big_tree(root: Path) -> None:
    for i in range(300):
        d = root / f"mod{i % 13}" / f"pkg{i % 5}"
        d.mkdir(parents=True, exist_ok=True)
        body = "".join(f"func F{i}_{j}() int {{ return {i * j} }}\n" for j in range(60))
        (d / f"f{i}.go").write_text(f"package pkg{i % 5}\n\n{body}")
    (root / "blob.bin").write_bytes(random.Random(7).randbytes(600_000))


def test_parallel_gzip_bytes_do_not_depend_on_the_thread_count(tmp_path: Path) -> None:
    src = tmp_path / "vendor"
    _big_tree(src)
    outs = {}
    for jobs in (1, 2, 3, 8):
        out = tmp_path / f"j{jobs}.tar.gz"
        deterministic_tar(src, out, "vendor", 1700000000, jobs=jobs)
        outs[jobs] = out.read_bytes()
    assert len(outs[1]) > 8 * BLOCK // 10, "spans many blocks"
    assert len(set(outs.values())) == 1, "same bytes for 1, 2, 3 and 8 threads"
    # a standard gunzip reads it: the tar stream inside is GNU tar's, unchanged
    plain = subprocess.run(
        ["gzip", "-dc", str(tmp_path / "j2.tar.gz")], capture_output=True, check=True
    )
    assert gzip.decompress(outs[1]) == plain.stdout
    with tarfile.open(tmp_path / "j1.tar.gz") as tf:
        names = tf.getnames()
    assert "vendor/blob.bin" in names and len(names) > 300


def test_gzip_stream_is_pinned_for_this_zlib() -> None:
    """The bytes depend on zlib's deflate (hence PACKER in the lock); with the same zlib they are
    the same on any machine. A golden value for the zlib this was written against."""
    data = b"".join(
        b"line %d of a go file: func F%d() int { return %d }\n" % (i, i % 97, i * 7 % 1000)
        for i in range(60000)
    )
    outs = []
    for jobs in (1, 4):
        buf = io.BytesIO()
        gzip_stream(io.BytesIO(data), buf, 9, jobs)
        outs.append(buf.getvalue())
    assert outs[0] == outs[1] and gzip.decompress(outs[0]) == data
    assert outs[0][:4] == b"\x1f\x8b\x08\x00" and outs[0][4:8] == b"\0\0\0\0"
    assert PACKER == "gzip-zlib-" + zlib.ZLIB_RUNTIME_VERSION.replace(".", "-")
    if zlib.ZLIB_RUNTIME_VERSION != "1.2.13":
        pytest.skip(f"golden bytes recorded with zlib 1.2.13, this is {zlib.ZLIB_RUNTIME_VERSION}")
    assert (
        hashlib.sha256(outs[0]).hexdigest()
        == "373321b248e08f763e9893bf4a2f27bcebf0e9d72cca186764f44def1dd96b53"
    )


def _archive(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w") as tf:
        for ti, data in members:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    return ti, data


def _link(name: str, target: str, hard: bool = False) -> tuple[tarfile.TarInfo, None]:
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    ti.linkname = target
    return ti, None


def _dev(name: str) -> tuple[tarfile.TarInfo, None]:
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.CHRTYPE
    ti.devmajor, ti.devminor = 1, 3
    return ti, None


HOSTILE = {
    "dotdot": [_file("ok.txt"), _file("../escape.txt")],
    "nested-dotdot": [_file("a/../../escape.txt")],
    "absolute": [_file("/tmp/emtk3s-escape.txt")],
    "symlink-out": [_link("evil", "../../etc/passwd")],
    "symlink-abs": [_link("evil", "/etc/passwd")],
    "hardlink-out": [_link("evil", "../outside", hard=True)],
    "device": [_dev("null")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archives_refused_before_any_write(tmp_path: Path, case: str) -> None:
    arch = _archive(tmp_path / f"{case}.tar", HOSTILE[case])
    dest = tmp_path / "sub" / "dest"
    with pytest.raises(InputError) as exc:
        safe_extract(arch, dest)
    assert arch.name in str(exc.value)
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "sub" / "escape.txt").exists()
    assert not Path("/tmp/emtk3s-escape.txt").exists()
    assert not dest.exists() or not any(dest.iterdir()), (
        "nothing may be written when one member is bad"
    )


def test_huge_declared_size_refused(tmp_path: Path) -> None:
    arch = tmp_path / "huge.tar"
    ti = tarfile.TarInfo("big")
    ti.size = 10 << 20
    with tarfile.open(arch, "w") as tf:
        tf.addfile(ti, io.BytesIO(b"\0" * ti.size))
    with pytest.raises(InputError, match="declares|more than"):
        safe_extract(arch, tmp_path / "dest", max_total_bytes=1 << 20)


def test_good_archive_round_trips(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _tree(src)
    deterministic_tar(src, tmp_path / "t.tar.gz", "p", 1700000000)
    names = safe_extract(tmp_path / "t.tar.gz", tmp_path / "out")
    assert "p/b/link" in names
    assert (tmp_path / "out" / "p" / "b" / "link").resolve() == (
        tmp_path / "out" / "p" / "a.txt"
    ).resolve()
    assert os.access(tmp_path / "out" / "p" / "b" / "run.sh", os.X_OK)
