"""The chroot backend's local-repository index reads only new or changed RPMs: each RPM's
capabilities are remembered under its sealed stat record (infra/cache.py); any change to a file
(even one keeping its size and mtime) makes it read again. Builds real RPMs with rpmbuild."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emtk3s.builders.chroot import _repo_index

SPEC = """Name: {name}
Version: 1
Release: 1
Summary: memo test
License: MIT
BuildArch: noarch
Provides: {cap}

%description
memo test

%files
"""


def _rewrite_keeping_size_and_mtime(path: Path, data: bytes) -> None:
    st = path.stat()
    time.sleep(0.01)
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_ctime_ns != st.st_ctime_ns


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    top, out = tmp_path / "top", tmp_path / "RPMS"
    for name, cap in (("alpha", "alpha-cap"), ("beta", "beta-cap")):
        spec = tmp_path / f"{name}.spec"
        spec.write_text(SPEC.format(name=name, cap=cap))
        subprocess.run(
            ["rpmbuild", "-bb", "--define", f"_topdir {top}", str(spec)],
            check=True,
            capture_output=True,
        )
    out.mkdir()
    for f in (top / "RPMS").rglob("*.rpm"):
        os.replace(f, out / f.name)
    return out


def test_repo_index_reads_only_new_or_changed_rpms(repo: Path, tmp_path: Path) -> None:
    memo = tmp_path / "repo-index.json"
    index = _repo_index(repo, memo)
    alpha = next(repo.glob("alpha-*.rpm"))
    assert index["alpha"] == index["alpha-cap"] == alpha
    assert index["beta-cap"].name.startswith("beta-")
    assert _repo_index(repo) == index, "the memo changes nothing of the answer"
    # trusted unread: a forged entry under a matching record is what comes back
    data = json.loads(memo.read_text())
    data[alpha.name]["caps"] = ["forged-cap"]
    memo.write_text(json.dumps(data))
    assert "forged-cap" in _repo_index(repo, memo)
    # an up-to-date index loads no rpm bindings
    code = (
        "import sys; from pathlib import Path; from emtk3s.builders.chroot import _repo_index; "
        f"_repo_index(Path({str(repo)!r}), Path({str(memo)!r})); print('rpm' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"
    # a changed RPM (same size, mtime put back) is read again
    _rewrite_keeping_size_and_mtime(alpha, alpha.read_bytes())
    again = _repo_index(repo, memo)
    assert "forged-cap" not in again and again["alpha-cap"] == alpha
