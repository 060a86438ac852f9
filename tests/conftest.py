"""Shared fixtures: a local upstream (git + HTTP on 127.0.0.1) and throwaway projects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import k3s_release
from tests.fixtures.upstream import Upstream

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    up = Upstream(tmp_path_factory.mktemp("upstream")).start()
    k3s_release.populate(up)
    yield up
    up.stop()


@pytest.fixture()
def fresh_upstream(tmp_path: Path) -> Iterator[Upstream]:
    """An upstream a test may change (move tags, inject faults) without touching others."""
    up = Upstream(tmp_path / "upstream").start()
    k3s_release.populate(up)
    yield up
    up.stop()


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class ProjectDir:
    """A project directory with the fixture upstream, for running the CLI (emtk3s.infra.paths.Project
    is the library's view of a project)."""

    root: Path
    cache: Path
    upstream: Upstream

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMTK3S_")}
        env["EMTK3S_CACHE"] = str(self.cache)
        env.update(self.upstream.mirror_env())
        return env

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 600,
        recheck_json: bool = True,
        env: dict[str, str] | None = None,
    ) -> Result:
        """Run emtk3s in the project. Centrally, for every run of the suite: with --json, stdout
        is exactly one JSON document whose ok/exit_code agree with the exit code; a failing run
        without --json is run again with it (recheck_json=False to skip that) and must print one
        document that agrees with its own exit code."""
        cmd = [sys.executable, "-m", "emtk3s", "-C", str(self.root), *args]
        full_env = {**self.env(), **(env or {})}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout)
        res = Result(proc.returncode, proc.stdout, proc.stderr)
        if "--json" in args:
            check_json_contract(res, args)
        elif proc.returncode != 0 and recheck_json and proc.returncode > 0:
            # the same command again with --json: one document that agrees with its exit code
            # (a rerun may meet another state, so its code is not compared with the first)
            self.run("--json", *args, check=False, timeout=timeout, env=env)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return res

    def write_release(self, **overrides: Any) -> None:
        rel = {
            "k3s": k3s_release.K3S_TAG,
            "arches": ["x86_64", "aarch64"],
            "airgap_images": False,
            "release": 1,
        }
        rel.update(overrides)
        lines = ["[release]"]
        for k, v in rel.items():
            lines.append(f"{k} = {json.dumps(v)}")
        lines += [
            "",
            "[changelog]",
            'author = "Test Packager"',
            'email = "packager@example.invalid"',
            "",
        ]
        (self.root / "release.toml").write_text("\n".join(lines))

    @property
    def lock(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.root / "emtk3s.lock").read_text())
        return data


def check_json_contract(res: Result, args: tuple[str, ...] | list[str]) -> None:
    """--json: one JSON document on stdout for every outcome, and it agrees with the exit code."""
    if res.code < 0:  # killed by a signal on purpose: nothing could be printed
        return
    try:
        doc = json.loads(res.out)
    except ValueError as exc:
        raise AssertionError(
            f"--json {' '.join(args)} (exit {res.code}) did not print one JSON document: {exc}\n"
            f"stdout: {res.out[:2000]}\nstderr: {res.err[-2000:]}"
        ) from None
    assert isinstance(doc, dict), (args, res.code, doc)
    if doc.get("ok") is True:  # a success whose exit code says more (check-updates' 100)
        assert res.code == doc.get("exit_code", 0), (args, res.code, doc)
    else:
        assert doc.get("ok") is False and res.code != 0, (args, res.code, doc)
    if doc.get("ok") is False:
        assert doc["error"]["exit_code"] == res.code, (args, res.code, doc["error"])
        assert doc["error"]["message"], doc
    assert "Traceback" not in res.err or "--debug" in args, res.err


def make_project(root: Path, upstream: Upstream) -> ProjectDir:
    root.mkdir(parents=True, exist_ok=True)
    p = ProjectDir(root, root.parent / f"{root.name}-cache", upstream)
    p.write_release()
    return p


@pytest.fixture()
def project(tmp_path: Path, upstream: Upstream) -> ProjectDir:
    return make_project(tmp_path / "proj", upstream)
