"""The CLI contract CI relies on: one JSON document for every
outcome, exit codes, global options anywhere, the project found upwards, Ctrl-C, no network."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ProjectDir, check_json_contract, make_project
from tests.conftest import Result as RunResult
from tests.fixtures.upstream import Fault, Upstream

PKG = "k3s-iptables-helpers"
LICENSE = "/raw/k3s-io/k3s-root/v0.14.1/LICENSE"


def _run(p: ProjectDir, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    proc = subprocess.run(
        [sys.executable, "-m", "emtk3s", *args],
        cwd=cwd or p.root,
        env=p.env() | (env or {}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    res = RunResult(proc.returncode, proc.stdout, proc.stderr)
    if "--json" in args:
        check_json_contract(res, list(args))
    return res


def _helpers(up: Upstream, root: Path) -> ProjectDir:
    p = make_project(root, up)
    p.write_release(packages=[PKG])
    return p


def test_global_options_after_the_command_and_project_found_upwards(
    upstream: Upstream, tmp_path: Path
) -> None:
    p = _helpers(upstream, tmp_path / "proj")
    p.run("resolve")
    sub = p.root / "SPECS" / "deeper"
    sub.mkdir(parents=True)
    res = _run(p, "show", PKG, "--json", cwd=sub)  # as the README writes it, from a subdirectory
    assert res.code == 0 and res.json["result"]["package"]["name"] == PKG
    res = _run(p, "show", "-C", str(p.root), PKG, "--json", cwd=tmp_path)
    assert res.code == 0
    lost = _run(p, "--json", "show", cwd=tmp_path)  # no release.toml up from tmp_path
    assert lost.code == 2 and "-C DIR" in lost.json["error"]["hint"]


def test_typos_get_a_did_you_mean_and_usage_errors_are_json(project: ProjectDir) -> None:
    res = _run(project, "--json", "shwo")
    assert res.code == 2 and res.json["error"]["category"] == "usage"
    assert "Did you mean 'show'?" in res.json["error"]["message"]
    res = _run(project, "emt", "integrat", "--json")
    assert res.code == 2 and "Did you mean 'integrate'?" in res.json["error"]["message"]
    res = _run(project, "resolve", "--ofline", "--json")
    assert res.code == 2 and "--offline" in res.json["error"]["message"]


def test_run_an_earlier_stage_first_is_a_precondition_error(project: ProjectDir) -> None:
    res = _run(project, "--json", "show")
    assert res.code == 10 and res.json["error"]["category"] == "precondition"
    assert "resolve" in res.json["error"]["hint"]
    project.write_release(packages=[PKG])
    project.run("resolve")
    res = _run(project, "--json", "srpm")
    assert res.code == 10 and "render" in res.json["error"]["hint"], res.json


def test_an_internal_error_is_one_json_document(project: ProjectDir, tmp_path: Path) -> None:
    boom = tmp_path / "boom"
    boom.mkdir()
    (boom / "sitecustomize.py").write_text(
        "import emtk3s.model.lock as m\n"
        "def require(path, mirrors):\n"
        "    raise RuntimeError('a bug')\n"
        "m.require = require\n"
    )
    res = _run(project, "--json", "show", env={"PYTHONPATH": str(boom)})
    assert res.code == 1
    err = res.json["error"]
    assert err["category"] == "internal" and "RuntimeError: a bug" in err["message"]
    assert "Traceback" not in res.err and len(res.err.strip().splitlines()) == 1


def test_ctrl_c_stops_a_stalled_download_within_a_second(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    p = _helpers(fresh_upstream, tmp_path / "proj")
    p.run("resolve")
    fresh_upstream.faults[LICENSE] = [Fault("stall", seconds=120)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "emtk3s", "-C", str(p.root), "--json", "fetch", "-j", "1"],
        env=p.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while fresh_upstream.requests[LICENSE] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fresh_upstream.requests[LICENSE], "the download never started"
    time.sleep(0.3)  # inside the stalled read now
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    took = time.monotonic() - t0
    assert proc.returncode == 130, err
    assert took < 1.5, f"Ctrl-C took {took:.1f}s"
    doc = json.loads(out)
    assert doc["ok"] is False and doc["error"]["category"] == "interrupted"
    assert err.strip().splitlines()[-1] == "emtk3s fetch: interrupted"


def test_second_ctrl_c_kills_at_once(fresh_upstream: Upstream, tmp_path: Path) -> None:
    p = _helpers(fresh_upstream, tmp_path / "proj")
    p.run("resolve")
    fresh_upstream.faults[LICENSE] = [Fault("stall", seconds=120)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "emtk3s", "-C", str(p.root), "fetch", "-j", "1"],
        env=p.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while fresh_upstream.requests[LICENSE] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130 and time.monotonic() - t0 < 3, "the second Ctrl-C must not wait"


def test_no_dns_fails_fast_once_naming_the_mirror_variable(project: ProjectDir) -> None:
    project.write_release(packages=[PKG])
    project.run("resolve")
    dead = {
        "EMTK3S_MIRROR_RAW": "https://mirror.invalid/raw",
        "EMTK3S_MIRROR_GITHUB": "https://mirror.invalid/github",
    }
    t0 = time.monotonic()
    res = _run(project, "--json", "fetch", "--retries", "5", env=dead)
    assert time.monotonic() - t0 < 10
    assert res.code == 4, res.err
    assert "EMTK3S_MIRROR_RAW" in res.json["error"]["hint"]
    assert "host name not resolved" in res.json["error"]["message"]
    assert len(res.err.strip().splitlines()) == 1, res.err  # once, not a retry line per attempt


def test_mock_absent_is_the_environment_code_in_build_chain_and_all(
    upstream: Upstream, tmp_path: Path
) -> None:
    import shutil

    if shutil.which("mock"):
        import pytest

        pytest.skip("mock is installed here: the absent-mock path cannot be shown")
    p = _helpers(upstream, tmp_path / "proj")
    p.run("all", "--until", "srpm")
    stale = p.root / ".emtk3s" / "logs" / f"build-{PKG}.log"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("an older run's log\n")
    old = time.time() - 3600
    import os

    os.utime(stale, (old, old))
    mock = ("--backend", "mock", "--mock-repo", "https://emt.example.invalid/3.0")
    for args in (("build", *mock), ("chain", *mock), ("all", *mock)):
        res = _run(p, "-C", str(p.root), "--json", *args)
        assert res.code == 6, (args, res.err)
        err = res.json["error"]
        assert err["category"] == "environment" and "mock is not installed" in err["message"]
        assert str(stale) not in err["message"], "named an older run's log"
        if args[0] == "all":  # a failing all carries the stages that finished
            res_doc = res.json["result"]
            assert res_doc["failed"] == "build"
            assert res_doc["finished"] == [
                "resolve",
                "fetch",
                "render",
                "license",
                "validate",
                "srpm",
            ]


def test_fetch_names_the_file_in_flight(fresh_upstream: Upstream, tmp_path: Path) -> None:
    p = _helpers(fresh_upstream, tmp_path / "proj")
    p.run("resolve")
    res = p.run("fetch", "-j", "1")
    lines = res.err.splitlines()
    start = lines.index(
        next(ln for ln in lines if ln.startswith("fetch: downloading") and "LICENSE" in ln)
    )
    end = lines.index(
        next(ln for ln in lines if ln.startswith("fetch: downloaded") and "LICENSE" in ln)
    )
    assert start < end
