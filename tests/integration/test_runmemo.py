"""A no-op `all` answered from the memo of the last run that changed nothing: it imports no
stage, prints exactly what the full run prints and writes nothing; and the memo is never
believed once anything it rests on changed (a template, the lock, release.toml, an RPM, an
SRPM, a cached source, the environment, a new file among the outputs): the run then goes the
full way and does what the change calls for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ProjectDir, make_project
from tests.fixtures.upstream import Upstream

PKG = "k3s-iptables-helpers"
STAGE_MODULE = "emtk3s.stages.all"  # imported by every full run of `all`, never by a replay


@dataclass
class Run:
    code: int
    out: str
    err: str
    modules: set[str]

    @property
    def replayed(self) -> bool:
        return STAGE_MODULE not in self.modules


def _all(p: ProjectDir, *args: str, env: dict[str, str] | None = None) -> Run:
    """`emtk3s all` under ``python -X importtime``: its output and the modules it imported."""
    cmd = [sys.executable, "-X", "importtime", "-m", "emtk3s", "-C", str(p.root), *args, "all"]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**p.env(), **(env or {})}, timeout=600
    )
    modules = set()
    err = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:"):
            if "|" in line:
                modules.add(line.rsplit("|", 1)[1].strip())
        else:
            err.append(line)
    return Run(proc.returncode, proc.stdout, "\n".join(err), modules)


def _tree(*roots: Path) -> dict[str, tuple[int, int, int, int]]:
    out = {}
    for root in roots:
        for p in [root, *root.rglob("*")]:
            st = p.lstat()
            out[str(p)] = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    return out


@pytest.fixture()
def proj(fresh_upstream: Upstream, tmp_path: Path) -> ProjectDir:
    p = make_project(tmp_path / "proj", fresh_upstream)
    p.write_release(packages=[PKG])
    # the package's own template as a project template (same text, same spec): a template
    # the tests can touch and edit without touching emtk3s' code
    from emtk3s import catalog

    tdir = p.root / "templates" / PKG
    tdir.mkdir(parents=True)
    for f in catalog.load().packages[PKG].template_dir(None).iterdir():
        (tdir / f.name).write_text(f.read_text())
    p.run("all")  # does the work, then records the memo of the no-op that follows
    return p


def _full_noop_lines(p: ProjectDir) -> str:
    """What the full run prints for the project as it is (--verify never replays)."""
    res = p.run("--verify", "all")
    return res.out


def test_a_noop_is_replayed_writes_nothing_and_prints_what_the_full_run_prints(
    proj: ProjectDir,
) -> None:
    assert (proj.root / ".emtk3s" / "memo" / "all").is_file(), "the run that built left a memo"
    before = _tree(proj.root, proj.cache)
    fast = _all(proj)
    assert fast.code == 0, fast.err
    assert fast.replayed, sorted(m for m in fast.modules if m.startswith("emtk3s"))
    assert "emtk3s.infra.http" not in fast.modules and "logging" not in fast.modules
    assert _tree(proj.root, proj.cache) == before, "a replayed no-op wrote something"
    assert fast.err == ""
    lines = fast.out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(PKG) and "up to date" in lines[0], fast.out
    quiet = _all(proj, "-q")
    assert quiet.replayed and quiet.out == "" and quiet.err == ""
    # --json is always the full run (its document carries every stage's result); it finds
    # the memo it would write already there
    doc = proj.run("--json", "all").json["result"]
    assert doc["stages"]["build"]["builds"][0]["skipped"] is True
    assert _tree(proj.root, proj.cache) == before
    # the full run, made to go the whole way, says the same
    assert _full_noop_lines(proj) == fast.out
    # (--verify rehashed every source and sealed its record anew: the state moved, so the
    # next run is a full one, and it records the memo the one after replays)
    assert not _all(proj).replayed
    assert _all(proj).replayed


def test_a_touched_input_is_not_replayed_and_the_next_noop_is_again(proj: ProjectDir) -> None:
    template = next((proj.root / "templates" / PKG).iterdir())
    lock = proj.root / "emtk3s.lock"
    release = proj.root / "release.toml"
    for what in (template, lock, release, proj.root / "SPECS" / PKG / f"{PKG}.spec"):
        os.utime(what)  # same bytes, newer times
        full = _all(proj)
        assert full.code == 0, full.err
        assert not full.replayed, f"{what.name} touched: the memo was believed"
        assert "srpm up to date" in full.out and "rpm up to date" in full.out, full.out
        again = _all(proj)
        assert again.replayed, f"after {what.name}: the full no-op did not record a new memo"
        assert again.out == full.out
    # a new file among the outputs, and an unknown EMTK3S_ variable (warned about on stderr)
    stray = proj.root / "RPMS" / "stray.txt"
    stray.write_text("")
    assert not _all(proj).replayed
    stray.unlink()
    warned = _all(proj, env={"EMTK3S_NOT_A_SETTING": "1"})
    assert not warned.replayed and "EMTK3S_NOT_A_SETTING" in warned.err, warned.err
    assert not _all(proj, env={"EMTK3S_NOT_A_SETTING": "1"}).replayed, "a warning is not replayed"
    assert not _all(proj).replayed  # the memo is of the RPMS/ that held stray.txt
    assert _all(proj).replayed


def test_changed_inputs_and_outputs_are_rebuilt_not_replayed(proj: ProjectDir) -> None:
    rpms = sorted((proj.root / "RPMS").rglob("*.rpm"))
    assert rpms
    # an RPM removed: built again
    rpms[0].unlink()
    res = _all(proj)
    assert res.code == 0 and not res.replayed, res.err
    assert "1 rpm built" in res.out, res.out
    assert rpms[0].is_file()
    assert _all(proj).replayed
    # the SRPM changed in place, size and mtime kept: made again
    srpm = next((proj.root / "SRPMS").glob("*.src.rpm"))
    good = srpm.read_bytes()
    st = srpm.stat()
    srpm.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    os.utime(srpm, ns=(st.st_atime_ns, st.st_mtime_ns))
    res = _all(proj)
    assert res.code == 0 and not res.replayed and "srpm built" in res.out, res.out
    assert srpm.read_bytes() == good
    assert _all(proj).replayed
    # a template edited: rendered again (a comment only: the spec changes, the package not)
    template = next((proj.root / "templates" / PKG).iterdir())
    text = template.read_text()
    assert "%description" in text
    template.write_text(text.replace("%description", "# a spec comment\n%description", 1))
    res = _all(proj)
    assert res.code == 0 and not res.replayed and "render:" in res.out, res.out
    assert _all(proj).replayed
    # release.toml changed: the release number moves, everything downstream is made again
    proj.write_release(packages=[PKG], release=2)
    res = _all(proj)
    assert res.code == 0 and not res.replayed, res.err
    assert "-2.emt3" in res.out and "srpm built" in res.out, res.out
    assert _all(proj).replayed


def test_a_changed_cached_source_is_caught_not_replayed(proj: ProjectDir) -> None:
    src = next(s for s in proj.lock["packages"][PKG]["sources"] if s["name"].endswith("README.md"))
    blob = next(f for f in (proj.cache / "blobs").rglob(src["sha256"]))
    _edit_keep_size_and_mtime(blob)
    res = _all(proj)
    assert res.code == 3 and not res.replayed, (res.code, res.out, res.err)
    assert "corrupt" in res.err and src["sha256"] in res.err
    # the next run downloads it again and is a no-op beyond that; then replayed again
    res = _all(proj)
    assert res.code == 0 and not res.replayed, res.err
    assert "fetch:" in res.out and "1 downloaded" in res.out, res.out
    assert _all(proj).replayed


def test_the_lock_edited_is_not_replayed(proj: ProjectDir) -> None:
    lock_file = proj.root / "emtk3s.lock"
    lock = json.loads(lock_file.read_text())
    src = next(s for s in lock["packages"][PKG]["sources"] if s["name"].endswith("README.md"))
    src["sha256"] = "0" * 64  # a pin that no longer matches what upstream serves
    lock_file.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    res = _all(proj)
    assert res.code != 0 and not res.replayed, (res.code, res.out)
    assert "0" * 64 in res.err, res.err


def _edit_keep_size_and_mtime(path: Path) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[3] ^= 0x20
    os.chmod(path, 0o644)
    time.sleep(0.01)
    path.write_bytes(bytes(data))
    os.chmod(path, st.st_mode & 0o777)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns
