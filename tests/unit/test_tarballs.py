"""Deterministic tarballs and safe extraction (hostile archives refused before any write)."""

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from emtk3s.infra.errors import InputError
from emtk3s.infra.safetar import safe_extract
from emtk3s.infra.tarballs import deterministic_tar


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
    assert max(m.mtime for m in members) <= 1700000000
    modes = {m.name: m.mode for m in members}
    assert modes["pkg-1.0/b/run.sh"] == 0o755 and modes["pkg-1.0/a.txt"] == 0o644
    # gzip header: no name, mtime 0 (like gzip -n)
    head = (tmp_path / "1.tar.gz").read_bytes()[:10]
    assert head[3] & 0x08 == 0 and head[4:8] == b"\0\0\0\0"


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
