"""docs/ci-job.md's job, run step by step as written there, on a fixture project with a git
history: green on a committed, rendered project; red, with nothing committed touched, when
release.toml was changed without rendering (the drift `all --locked` used to hide)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.conftest import ProjectDir, make_project
from tests.fixtures.upstream import Upstream

DOC = Path(__file__).resolve().parents[2] / "docs" / "ci-job.md"
PKG = "k3s-iptables-helpers"


def _steps() -> list[list[str]]:
    """The `- run:` lines of the job, in order, without the install step (done here)."""
    steps = []
    for line in DOC.read_text().splitlines():
        m = re.match(r"\s*- run: (.+)$", line)
        if m and "install.sh" not in m.group(1):
            steps.append(shlex.split(m.group(1)))
    return steps


def _run_job(p: ProjectDir) -> tuple[int, str]:
    """Each step in the project directory; `.venv/bin/emtk3s` is this checkout's emtk3s and a
    `> file` redirection is honoured. Stops at the first failing step, like a CI job."""
    for argv in _steps():
        out = None
        if ">" in argv:
            i = argv.index(">")
            out, argv = p.root / argv[i + 1], argv[:i]
        if argv[0].endswith("/emtk3s"):
            argv = [sys.executable, "-m", "emtk3s", *argv[1:]]
        proc = subprocess.run(argv, cwd=p.root, env=p.env(), capture_output=True, text=True)
        if out is not None:
            out.write_text(proc.stdout)
        if proc.returncode != 0:
            return proc.returncode, " ".join(argv) + "\n" + proc.stderr
    return 0, ""


def _git(p: ProjectDir, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=p.root, check=True, capture_output=True, text=True
    ).stdout


def test_the_documented_ci_job_passes_clean_and_fails_on_drift_writing_nothing(
    upstream: Upstream, tmp_path: Path
) -> None:
    steps = _steps()
    assert steps[0][1:] == ["render", "--check"], "the check comes first"
    p = make_project(tmp_path / "proj", upstream)
    p.write_release(packages=[PKG])
    p.run("all", "--nodeps")
    _git(p, "init", "-q")
    _git(p, "add", "-A")
    _git(p, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "ci")
    code, err = _run_job(p)
    assert code == 0, err

    # a release raised in release.toml without rendering: the job must go red, writing nothing
    rel = p.root / "release.toml"
    rel.write_text(rel.read_text().replace("release = 1", "release = 2"))
    _git(p, "commit", "-qam", "raise the release", "--author", "t <t@example.invalid>")
    before = {f: f.read_bytes() for f in (p.root / "SPECS").rglob("*") if f.is_file()}
    history = (p.root / "changelog.json").read_bytes()
    code, err = _run_job(p)
    assert code != 0, "drift must fail the job"
    assert PKG in err
    after = {f: f.read_bytes() for f in (p.root / "SPECS").rglob("*") if f.is_file()}
    assert after == before and (p.root / "changelog.json").read_bytes() == history


def test_all_locked_refuses_to_render_a_change_and_names_it(
    upstream: Upstream, tmp_path: Path
) -> None:
    p = make_project(tmp_path / "proj", upstream)
    p.write_release(packages=[PKG])
    p.run("all", "--nodeps")
    spec = p.root / "SPECS" / PKG / f"{PKG}.spec"
    before, history = spec.read_bytes(), (p.root / "changelog.json").read_bytes()
    rel = p.root / "release.toml"
    rel.write_text(rel.read_text().replace("release = 1", "release = 2"))
    res = p.run("all", "--locked", "--nodeps", check=False)
    assert res.code == 8, res.err
    assert f"SPECS/ would change for {PKG}" in res.err and "--locked" in res.err
    assert "+Release:" in res.err, "the drift is shown as a diff"
    assert spec.read_bytes() == before
    assert (p.root / "changelog.json").read_bytes() == history
