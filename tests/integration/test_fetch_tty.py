"""fetch on a real terminal (a pty): the overall line counts files and says so, each file's line
counts bytes; no file count is shown as bytes or bytes per second."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import time

from tests.conftest import ProjectDir

PKG = "k3s-iptables-helpers"


def _run_on_a_pty(p: ProjectDir, *args: str) -> tuple[int, str]:
    master, slave = pty.openpty()
    env = p.env() | {"COLUMNS": "160", "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "emtk3s", "-C", str(p.root), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the pty
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(timeout=30), re.sub(
        r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode(errors="replace")
    )


def test_the_overall_fetch_line_counts_files_not_bytes(project: ProjectDir) -> None:
    project.write_release(packages=[PKG])
    project.run("resolve")
    code, screen = _run_on_a_pty(project, "fetch", "-j", "1")
    assert code == 0, screen
    overall = [line for line in screen.splitlines() if line.strip().startswith("fetch ")]
    assert overall, screen
    assert any(re.search(r"\d+/4 files", line) for line in overall), overall
    assert not any(re.search(r"bytes/s|\d+/\d+ bytes", line) for line in overall), overall
