"""safe_extract against symlink-chain archives (the CVE-2025-4517 class): a member
below a link member, a link through another link, chains longer than PATH_MAX — refused before
anything is written, whatever tarfile's own filter would let through on this Python."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from emtk3s.infra.errors import InputError
from emtk3s.infra.safetar import safe_extract


def _tar(path: Path, members: list[tuple[str, str, str]]) -> Path:
    """members: (name, kind 'dir'|'file'|'sym'|'lnk', link target or file text)."""
    with tarfile.open(path, "w") as tf:
        for name, kind, arg in members:
            ti = tarfile.TarInfo(name)
            data = b""
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "sym":
                ti.type, ti.linkname = tarfile.SYMTYPE, arg
            elif kind == "lnk":
                ti.type, ti.linkname = tarfile.LNKTYPE, arg
            else:
                data = arg.encode()
                ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return path


def _pathmax_chain(path: Path, escape_to: str) -> Path:
    """Our own construction of the CVE-2025-4517 shape: directories with long names, each
    reached through a one-letter symlink, so that the real path of the chain exceeds PATH_MAX
    while every lexical check stays inside; then a link up the chain and a file through it."""
    comp = "d" * 247
    steps = "abcdefghijklmnop"
    members: list[tuple[str, str, str]] = []
    real = ""
    for s in steps:
        members.append((os.path.join(real, comp), "dir", ""))
        members.append((os.path.join(real, s), "sym", comp))
        real = os.path.join(real, comp)
    linkpath = os.path.join(*steps, "l" * 254)
    members.append((linkpath, "sym", "../" * len(steps)))
    members.append(("escape", "sym", linkpath + "/../" + escape_to))
    members.append(("escape/pwned", "file", "escaped\n"))
    return _tar(path, members)


def test_pathmax_symlink_chain_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "x" / "y" / "dest"
    archive = _pathmax_chain(tmp_path / "chain.tar", "../../../victim")
    (tmp_path / "victim").mkdir()
    with pytest.raises(InputError, match="link"):
        safe_extract(archive, dest)
    assert not (tmp_path / "victim" / "pwned").exists()
    assert not dest.exists() or not any(dest.iterdir())


@pytest.mark.parametrize(
    "members, needle",
    [
        # a file below a symlink member (whatever the symlink points at)
        ([("s", "sym", "."), ("s/f", "file", "x")], "below the link member"),
        # the classic: s -> "." makes s/l one level higher than its name says
        ([("s", "sym", "."), ("s/l", "sym", "../esc")], "below the link member"),
        # a symlink whose target walks through another symlink
        (
            [("d", "dir", ""), ("s", "sym", "d"), ("t", "sym", "s/../../esc")],
            "through another link",
        ),
        # a hardlink through a symlink member
        ([("d", "dir", ""), ("s", "sym", "d"), ("h", "lnk", "s/f")], "hardlink"),
        # the link member comes after the member below it
        ([("s/f", "file", "x"), ("s", "sym", ".")], "below the link member"),
    ],
)
def test_members_below_or_through_links_are_refused(
    tmp_path: Path, members: list[tuple[str, str, str]], needle: str
) -> None:
    archive = _tar(tmp_path / "a.tar", members)
    with pytest.raises(InputError, match=needle):
        safe_extract(archive, tmp_path / "dest")
    assert not (tmp_path / "esc").exists()


def test_ordinary_links_still_unpack(tmp_path: Path) -> None:
    archive = _tar(
        tmp_path / "ok.tar",
        [
            ("top", "dir", ""),
            ("top/lib", "dir", ""),
            ("top/lib/real.so", "file", "so"),
            ("top/lib/link.so", "sym", "real.so"),
            ("top/lib/chain.so", "sym", "link.so"),  # a link to a link: fine
            ("top/up", "sym", "lib/../lib/real.so"),
            ("top/hard", "lnk", "top/lib/real.so"),
            ("top/dangling", "sym", "lib/missing"),
        ],
    )
    names = safe_extract(archive, tmp_path / "dest")
    assert "top/lib/chain.so" in names
    assert (tmp_path / "dest" / "top" / "lib" / "chain.so").read_text() == "so"
    assert (tmp_path / "dest" / "top" / "hard").read_text() == "so"
