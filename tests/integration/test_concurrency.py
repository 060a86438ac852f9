"""One writer per project file: runs at the same time in one project never
break each other. Four renders at once all succeed (none removes another's staging directory);
two fetches of different packages at once keep both packages' pins (the lock is merged and
written under its writer lock, never read-modify-written blind)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from tests.conftest import ProjectDir
from tests.fixtures.upstream import Fault

PKGS = ["fuse-overlayfs", "slirp4netns", "k3s-iptables-helpers"]


def _start(p: ProjectDir, *args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "emtk3s", "-C", str(p.root), *args]
    return subprocess.Popen(
        cmd, env=p.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _all_ok(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err


def test_four_renders_at_once_all_succeed(project: ProjectDir) -> None:
    project.write_release(packages=PKGS)
    project.run("all", "--until", "render")
    want = {p.name: p.read_bytes() for p in (project.root / "SPECS").rglob("*") if p.is_file()}
    for _ in range(5):
        shutil.rmtree(project.root / "SPECS")
        shutil.rmtree(project.root / ".emtk3s" / "state", ignore_errors=True)
        _all_ok([_start(project, "render") for _ in range(4)])
        specs = project.root / "SPECS"
        got = {p.name: p.read_bytes() for p in specs.rglob("*") if p.is_file()}
        assert got == want
        assert sorted(p.name for p in specs.iterdir()) == sorted(PKGS)  # no staging left


def test_two_fetches_of_different_packages_keep_both_pins(project: ProjectDir) -> None:
    pkgs = ["fuse-overlayfs", "slirp4netns"]
    project.write_release(packages=pkgs)
    project.run("resolve")
    lock_file = project.root / "emtk3s.lock"
    lock = json.loads(lock_file.read_text())
    for name in pkgs:  # as if resolve could not pin them: fetch must
        for s in lock["packages"][name]["sources"]:
            s.update(sha256=None, size=None, origin="", pinned=False)
            # both fetches read the lock before either finishes downloading
            project.upstream.faults[f"/{s['mirror']}{s['path']}"] = [
                Fault("slow", after=100, seconds=1.5)
            ]
    lock_file.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    _all_ok([_start(project, "fetch", "-p", n) for n in pkgs])
    after = json.loads(lock_file.read_text())
    for name in pkgs:
        for s in after["packages"][name]["sources"]:
            assert s["sha256"] and s["size"], f"{name}/{s['name']} lost its pin"
    assert after["release_digest"] == lock["release_digest"]
