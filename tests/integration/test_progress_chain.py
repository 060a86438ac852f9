"""A chain build without a terminal says when a build starts and, while it runs, "still building"
lines with the elapsed time and the last line of its log, following the log as it grows.

The build waits for the test rather than for the clock: after printing a phase it waits until
the test has seen that phase in a "still building" line (the test then creates a marker file in
the build's _topdir, the one directory the build sandbox shares with the host), so the test
proves the lines follow the log, not that some time went by. If progress is broken the marker
never comes: the build gives up after a bound and the chain fails."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

# Waits without tracing (set +x), so that the log's last line is the phase it printed.
SLOW_SPEC = """Name:           slow
Version:        1.0
Release:        1
Summary:        a build that says where it is and waits for the test (test fixture)
License:        MIT
BuildArch:      noarch

%description
Fixture.

%build
set +x
wait_for() {{ n=0; while [ ! -e "$1" ]; do n=$((n+1)); [ $n -lt 1200 ] || exit 1; sleep 0.1; done; }}
echo "phase one of slow"
wait_for %{{_topdir}}/one
echo "phase two of slow"
wait_for %{{_topdir}}/two

%install
mkdir -p %{{buildroot}}%{{_datadir}}/slow
touch %{{buildroot}}%{{_datadir}}/slow/done

%files
%{{_datadir}}/slow/done

%changelog
* Fri Nov 08 2024 T <t@example.invalid> - 1.0-1
- Fixture.
"""

STILL = re.compile(r"still building: slow \(\d+:\d\d\): (.*)")


def test_chain_reports_a_long_build_with_its_last_log_line(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "SPECS" / "slow").mkdir(parents=True)
    (root / "SPECS" / "slow" / "slow.spec").write_text(SLOW_SPEC.format())

    def touch(name: str) -> None:
        # the build's _topdir: the one build-slow-* work directory under .emtk3s/
        (work,) = [d for d in (root / ".emtk3s").rglob("build-slow-*") if d.is_dir()]
        (work / name).touch()

    (root / "release.toml").write_text('[release]\nk3s = "v1.32.4+k3s1"\n')
    out_file = tmp_path / "stdout"
    with open(out_file, "w") as out_fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "emtk3s", "-C", str(root), "chain", "--nodeps"],
            stdout=out_fh,
            stderr=subprocess.PIPE,
            text=True,
            env={"EMTK3S_PROGRESS_EVERY": "0.5", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
        )
    assert proc.stderr is not None
    seen: list[str] = []
    phases: list[str] = []
    for line in proc.stderr:  # ends when the chain exits (the build's wait is bounded)
        seen.append(line)
        m = STILL.match(line.rstrip("\n"))
        if m and m.group(1) == "phase one of slow" and "one" not in phases:
            phases.append("one")
            touch("one")
        elif m and m.group(1) == "phase two of slow" and "two" not in phases:
            phases.append("two")
            touch("two")
    code = proc.wait(timeout=60)
    out = out_file.read_text()
    err = "".join(seen)
    assert phases == ["one", "two"], err
    assert code == 0, err + out
    assert any(ln.startswith("building: slow (log ") for ln in seen), err
