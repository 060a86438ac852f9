"""`chain --backend mock` on a host without mock: the SRPM is made (rpmbuild), then the build
stops with the environment exit code and says mock is missing. Where mock is installed this
cannot be shown, and a real mock build needs an EMT package repository (docs/backends.md)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import cpkgs


@pytest.mark.skipif(
    shutil.which("mock") is not None,
    reason="mock is installed here: the missing-mock error cannot be shown, and a real mock "
    "build needs an EMT package repository",
)
def test_build_with_mock_backend_here_says_mock_is_missing(tmp_path: Path) -> None:
    (tmp_path / "release.toml").write_text('[release]\nk3s = "v1.32.4+k3s1"\n')
    cpkgs.write(tmp_path / "SPECS", "fixture-a")
    assert (tmp_path / "SPECS" / "fixture-a").is_dir()
    run = [
        sys.executable,
        "-m",
        "emtk3s",
        "-C",
        str(tmp_path),
        "chain",
        "--backend",
        "mock",
        "--mock-repo",
        "https://emt.example/base",
    ]
    res = subprocess.run(run, capture_output=True, text=True)
    # the environment code, as `build --backend mock` says it, not "build"
    assert res.returncode == 6, res.stderr
    assert "mock is not installed" in res.stderr
