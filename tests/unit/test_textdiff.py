"""infra/textdiff: the diffs emtk3s prints are patches `git apply` takes, edge cases included."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from emtk3s.infra import textdiff

CASES = {
    "no final newline, both sides": (b"a\nb", b"a\nc"),
    "newline added at the end": (b"a\nb", b"a\nb\n"),
    "newline removed at the end": (b"a\nb\n", b"a\nb"),
    "ordinary change": (b"1\n2\n3\n", b"1\n2b\n3\n"),
    "new file": (None, b"x\ny"),
    "removed file": (b"x\ny\n", None),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_patch_applies_and_gives_the_new_bytes(name: str, tmp_path: Path) -> None:
    have, want = CASES[name]
    f = tmp_path / "d" / "f.txt"
    f.parent.mkdir()
    if have is not None:
        f.write_bytes(have)
    patch = textdiff.unified(have, want, "d/f.txt")
    assert patch
    subprocess.run(["git", "apply", "--check", "-"], input=patch.encode(), cwd=tmp_path, check=True)
    subprocess.run(["git", "apply", "-"], input=patch.encode(), cwd=tmp_path, check=True)
    assert (f.read_bytes() if f.exists() else None) == want


def test_no_change_is_no_patch() -> None:
    assert textdiff.unified(b"same", b"same", "f") == ""
