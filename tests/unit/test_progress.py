"""Progress lines: per running build, elapsed time and the log's last line. A real chain build
reporting them: tests/integration/test_progress_chain.py."""

from __future__ import annotations

from pathlib import Path

from emtk3s.infra.progress import BuildProgress, elapsed, last_line


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
