"""An EMT checkout is not trusted by integrate (emt/txn.py, emt/checkout.py).

A ``.emtk3s-integrate/journal.json`` found in a checkout is input: a planted one whose targets
lead outside the checkout (``..``, an absolute path, a symlinked directory on the way, a
symlinked ``old/`` or ``staged/``) is refused before anything moves. A staged file missing
from a journalled change is an error, not a skipped step. Two integrates of one checkout at
once both succeed (the second waits for the first's lock) and leave the clean result.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import emt_checkout

REPO = Path(__file__).resolve().parents[2]
INTEGRATED = ("fuse-overlayfs", "k3s-iptables-helpers", "slirp4netns")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this repository's project files (release.toml, lock, committed SPECS/)."""
    root = tmp_path_factory.mktemp("trust-project")
    for name in ("release.toml", "emtk3s.lock", "changelog.json"):
        if (REPO / name).is_file():
            shutil.copy(REPO / name, root / name)
    for pkg in INTEGRATED:
        shutil.copytree(REPO / "SPECS" / pkg, root / "SPECS" / pkg)
    return root


def _cmd(project: Path, emt: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "emtk3s",
        "-C",
        str(project),
        "emt",
        "integrate",
        "--emt-repo",
        str(emt),
    ]


def _integrate(project: Path, emt: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_cmd(project, emt), capture_output=True, text=True, timeout=600)


def _tree(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "-> " + str(p.readlink())
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_dir():
            out[rel] = "dir"
    return out


def _checkout(tmp_path: Path, name: str = "emt") -> Path:
    emt = emt_checkout.make(tmp_path / name)
    shutil.rmtree(emt / "SPECS-EXTENDED")
    return emt


def _plant(emt: Path, ops: list[dict[str, str]], staged: dict[str, bytes]) -> Path:
    txn = emt / ".emtk3s-integrate"
    (txn / "staged").mkdir(parents=True)
    for name, data in staged.items():
        (txn / "staged" / name).write_bytes(data)
    (txn / "journal.json").write_text(json.dumps(ops))
    return txn


@pytest.mark.parametrize(
    "target",
    ["../victim", "/ABS/victim", "SPECS/../../victim", "SPECS/./x", "SPECS//x", "LINK/victim"],
)
def test_planted_journal_cannot_reach_outside(project: Path, tmp_path: Path, target: str) -> None:
    emt = _checkout(tmp_path)
    outside = tmp_path / "outside"
    (outside / "victim").mkdir(parents=True)
    (outside / "victim" / "keep.txt").write_text("keep\n")
    (emt / "LINK").symlink_to(outside)
    target = target.replace("/ABS", str(outside))
    ops = [
        {"kind": "remove", "target": target},
        {"kind": "file", "target": target + "-planted.txt"},
    ]
    txn = _plant(emt, ops, {"1": b"planted\n"})
    before_out, before_emt = _tree(outside), _tree(emt)
    res = _integrate(project, emt)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "journal.json" in res.stderr and "Traceback" not in res.stderr
    assert _tree(outside) == before_out
    assert _tree(emt) == before_emt  # nothing moved inside either; the journal is kept
    assert (txn / "journal.json").is_file()
    assert not list(tmp_path.rglob("*planted.txt"))


@pytest.mark.parametrize("link", ["old", "staged"])
def test_symlinked_staging_directories_are_refused(
    project: Path, tmp_path: Path, link: str
) -> None:
    emt = _checkout(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "0").write_text("from outside\n")
    txn = emt / ".emtk3s-integrate"
    txn.mkdir()
    (txn / link).symlink_to(outside)
    if link == "old":
        (txn / "staged").mkdir()
    # a removal would move a checkout directory into old/ (outside); a staged file would be
    # moved out of the outside directory into the checkout
    ops = [{"kind": "file", "target": "README.planted"}, {"kind": "remove", "target": "toolkit"}]
    (txn / "journal.json").write_text(json.dumps(ops))
    before_out, before_emt = _tree(outside), _tree(emt)
    res = _integrate(project, emt)
    assert res.returncode == 2, res.stdout + res.stderr
    assert _tree(outside) == before_out and _tree(emt) == before_emt


def test_a_missing_staged_file_is_an_error(project: Path, tmp_path: Path) -> None:
    emt = _checkout(tmp_path)
    ops = [
        {"kind": "file", "target": "toolkit/one.txt"},
        {"kind": "file", "target": "toolkit/two.txt"},
    ]
    _plant(emt, ops, {"0": b"one\n"})  # staged/1 never made it
    res = _integrate(project, emt)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "staged" in res.stderr and "missing" in res.stderr
    assert "Traceback" not in res.stderr


def test_two_integrates_at_once_both_succeed_with_the_clean_result(
    project: Path, tmp_path: Path
) -> None:
    clean = _checkout(tmp_path, "clean")
    assert _integrate(project, clean).returncode == 0
    want = _tree(clean)
    for trial in range(20):
        emt = _checkout(tmp_path, f"emt{trial}")
        procs = [
            subprocess.Popen(_cmd(project, emt), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=600) for p in procs]
        for p, (_o, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, f"trial {trial}: {err.decode()}"
        assert _tree(emt) == want, f"trial {trial}"
        shutil.rmtree(emt)
