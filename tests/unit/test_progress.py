"""Progress lines: per running build, elapsed time and the log's last line."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from emtk3s.infra.progress import BuildProgress, elapsed, last_line

SLOW_SPEC = """Name:           slow
Version:        1.0
Release:        1
Summary:        a build that takes a while and says where it is (test fixture)
License:        MIT
BuildArch:      noarch

%description
Fixture.

%build
echo "phase one of slow"
sleep 3
echo "phase two of slow"
sleep 2

%install
mkdir -p %{buildroot}%{_datadir}/slow
touch %{buildroot}%{_datadir}/slow/done

%files
%{_datadir}/slow/done

%changelog
* Fri Nov 08 2024 T <t@example.invalid> - 1.0-1
- Fixture.
"""


def test_lines_show_elapsed_time_and_the_last_log_line(tmp_path: Path) -> None:
    log = tmp_path / "build-k3s-root.log"
    log.write_text("+ make\n>>> busybox 1.36.1 Building\n\n")
    p = BuildProgress(quiet=True)
    p.start("k3s-root", log)
    (line,) = p.lines()
    assert line.startswith("building k3s-root") and line.endswith(">>> busybox 1.36.1 Building")
    p.stop("k3s-root")
    assert p.lines() == []
    assert elapsed(3725) == "1:02:05" and elapsed(65) == "1:05"
    assert last_line(tmp_path / "missing.log") == ""


def test_chain_reports_a_long_build_with_its_last_log_line(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "SPECS" / "slow").mkdir(parents=True)
    (root / "SPECS" / "slow" / "slow.spec").write_text(SLOW_SPEC)
    (root / "release.toml").write_text('[release]\nk3s = "v1.32.4+k3s1"\n')
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "emtk3s", "-C", str(root), "chain", "--nodeps"],
        capture_output=True,
        text=True,
        env={"EMTK3S_PROGRESS_EVERY": "1", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - t0 >= 5
    err = proc.stderr
    assert "building: slow (log " in err
    still = [ln for ln in err.splitlines() if ln.startswith("still building: slow (0:0")]
    assert still, err
    assert any(ln.endswith("phase one of slow") or ln.endswith("sleep 3") for ln in still), err
    assert any("phase two of slow" in ln or "sleep 2" in ln for ln in still), err
