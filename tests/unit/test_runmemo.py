"""A run memo replays its lines only while every file and listing it covers is unchanged:
a rewrite that keeps the size and puts the mtime back, an added, removed or renamed file, a
changed link, another key: each makes the replay refuse (the run then goes the full way)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from emtk3s.cli.commands import all as all_cmd
from emtk3s.infra import runmemo
from emtk3s.stages import all as all_stage

KEY = runmemo.digest(["options", "ENV=1"])


def _memo(tmp_path: Path) -> tuple[Path, dict[str, list[str]]]:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("alpha\n")
    (tree / "sub" / "b.txt").write_text("beta\n")
    (tree / "skipped").mkdir()
    (tree / "skipped" / "noise").write_text("x")
    (tree / "__pycache__").mkdir()
    (tree / "link").symlink_to("a.txt")
    top = tmp_path / "top"
    top.mkdir()
    (top / "release.toml").write_text("[release]\n")
    (top / "big-dir").mkdir()
    single = tmp_path / "single"
    single.write_text("one")
    spec = {
        "trees": [str(tree)],
        "listings": [str(top)],
        "files": [str(single), str(tmp_path / "absent")],
        "skip": [str(tree / "skipped")],
    }
    snap = runmemo.snapshot(spec["trees"], spec["listings"], spec["files"], spec["skip"])
    memo = tmp_path / "memo" / "all"
    text = runmemo.render(
        KEY, ["line one", "line two"], spec["trees"], spec["listings"], spec["files"],
        spec["skip"], snap,
    )  # fmt: skip
    assert runmemo.write(str(memo), text) is True
    assert runmemo.write(str(memo), text) is False, "the same memo is not written again"
    return memo, spec


def test_an_unchanged_state_replays_the_lines(tmp_path: Path) -> None:
    memo, _ = _memo(tmp_path)
    assert runmemo.replay(str(memo), KEY) == ["line one", "line two"]
    # what the walks leave out may change freely
    (tmp_path / "tree" / "skipped" / "noise").write_text("changed")
    (tmp_path / "tree" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (tmp_path / "top" / "big-dir" / "deep").write_text("a listing is one level")
    assert runmemo.replay(str(memo), KEY) == ["line one", "line two"]


def test_another_key_or_no_memo_replays_nothing(tmp_path: Path) -> None:
    memo, _ = _memo(tmp_path)
    assert runmemo.replay(str(memo), runmemo.digest(["options", "ENV=2"])) is None
    assert runmemo.replay(str(tmp_path / "none"), KEY) is None
    memo.write_text(memo.read_text().replace("emtk3s-runmemo 1", "emtk3s-runmemo 0"))
    assert runmemo.replay(str(memo), KEY) is None


def _same_size_same_mtime(path: Path) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[0] ^= 0x20
    time.sleep(0.01)
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns)


@pytest.mark.parametrize(
    "change",
    [
        "rewrite-same-size-same-mtime",
        "touch",
        "add-file",
        "add-dir",
        "remove-file",
        "rename",
        "relink",
        "listing-add",
        "listing-file-edit",
        "single-file-edit",
        "absent-file-appears",
        "chmod",
    ],
)
def test_any_change_refuses_the_replay(tmp_path: Path, change: str) -> None:
    memo, _ = _memo(tmp_path)
    tree, top = tmp_path / "tree", tmp_path / "top"
    if change == "rewrite-same-size-same-mtime":
        _same_size_same_mtime(tree / "sub" / "b.txt")
    elif change == "touch":
        os.utime(tree / "a.txt")
    elif change == "add-file":
        (tree / "sub" / "c.txt").write_text("")
    elif change == "add-dir":
        (tree / "sub" / "new").mkdir()
    elif change == "remove-file":
        (tree / "sub" / "b.txt").unlink()
    elif change == "rename":
        (tree / "sub" / "b.txt").rename(tree / "sub" / "c.txt")
    elif change == "relink":
        (tree / "link").unlink()
        (tree / "link").symlink_to("sub/b.txt")
    elif change == "listing-add":
        (top / "stray.txt").write_text("")
    elif change == "listing-file-edit":
        _same_size_same_mtime(top / "release.toml")
    elif change == "single-file-edit":
        _same_size_same_mtime(tmp_path / "single")
    elif change == "absent-file-appears":
        (tmp_path / "absent").write_text("")
    elif change == "chmod":
        (tree / "a.txt").chmod(0o600)
    assert runmemo.replay(str(memo), KEY) is None, change


def test_paths_that_would_break_the_format_are_not_recordable() -> None:
    assert runmemo.recordable(["/a/b", "/c"])
    assert not runmemo.recordable(["/a/b\nc"])
    assert not runmemo.recordable(["/a/b\tc"])


def test_the_cli_names_the_stages_of_the_pipeline() -> None:
    # spelled out in the command so that parsing --until imports no stage
    assert all_cmd.STAGES == all_stage.STAGES
