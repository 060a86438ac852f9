"""Child processes that die with emtk3s.

Every child runs in its own process group (``start_new_session``) recorded here while it runs:

- an exception while it runs (Ctrl-C, SIGTERM, which the CLI turns into KeyboardInterrupt) or
  its time limit kills the whole group with SIGKILL before the exception goes on;
- :func:`kill_all` (called by the CLI before a forced exit, and at interpreter exit) kills every
  group still running, children of worker threads included;
- a SIGKILL of emtk3s itself, which runs nothing, is covered by the parent-death signal:
  host children start through ``setpriv --pdeathsig KILL`` and sandboxed ones under
  ``bwrap --die-with-parent`` (whose pid namespace takes every process of the build along).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

_live: dict[int, subprocess.Popen[Any]] = {}
_guard = threading.Lock()


class TimedOut(Exception):
    """The child ran past its time limit; its whole process group was killed."""

    def __init__(self, cmd: Sequence[str], seconds: float) -> None:
        super().__init__(f"{Path(cmd[0]).name} ran longer than {seconds:g} s and was killed")
        self.seconds = seconds


def pdeathsig_prefix() -> list[str]:
    """``setpriv --pdeathsig KILL --``: the child gets SIGKILL when emtk3s dies (an exec
    keeps the setting; empty where util-linux's setpriv is missing)."""
    return ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []


def _killpg(proc: subprocess.Popen[Any]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_all() -> None:
    """SIGKILL every process group started here that is still running."""
    with _guard:
        procs = list(_live.values())
    for proc in procs:
        _killpg(proc)


atexit.register(kill_all)


def run(
    cmd: Sequence[str],
    *,
    input: bytes | str | None = None,
    stdout: int | IO[Any] | None = subprocess.PIPE,
    stderr: int | IO[Any] | None = subprocess.PIPE,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    text: bool = False,
    timeout: float | None = None,
    pass_fds: Sequence[int] = (),
    host: bool = True,
) -> subprocess.CompletedProcess[Any]:
    """Run ``cmd`` in a process group of its own that dies with emtk3s (see the module
    docstring). ``host``: prefix the parent-death signal (sandboxed commands get it from
    bubblewrap). Raises :class:`TimedOut` after ``timeout`` seconds, the group killed."""
    argv = [*(pdeathsig_prefix() if host else []), *cmd]
    proc: subprocess.Popen[Any] = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        text=text,
        pass_fds=tuple(pass_fds),
        start_new_session=True,
    )
    with _guard:
        _live[proc.pid] = proc
    try:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            _killpg(proc)
            proc.communicate()
            raise TimedOut(cmd, timeout or 0) from None
        except BaseException:
            _killpg(proc)
            proc.wait()
            raise
    finally:
        with _guard:
            _live.pop(proc.pid, None)
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)
