"""Running rpm tools (rpmbuild, rpmspec, rpmlint) with logs to files."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from emtk3s.infra import procs
from emtk3s.infra.errors import BuildError, EnvironmentProblem
from emtk3s.infra.rpm import macros


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise EnvironmentProblem(
            f"{tool} is not installed",
            "run ./install.sh (Debian: apt-get install rpm createrepo-c rpmlint)",
        )
    return path


def macro_args(topdir: Path | None = None) -> list[str]:
    args = ["--load", str(macros.path())]
    if topdir is not None:
        args += ["--define", f"_topdir {topdir}"]
    return args


def run_logged(
    cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> None:
    """Run one of our own rpm tool calls on the host (``rpmbuild -bs`` of a spec emtk3s
    rendered), in a process group that dies with emtk3s. Anything that runs a spec's build
    scripts goes through :func:`run_sandboxed` instead."""
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "LC_ALL": "C", "TZ": "UTC", **(env or {})}
    with open(log, "wb") as fh:
        fh.write(("$ " + " ".join(cmd) + "\n").encode())
        fh.flush()
        proc = procs.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=full_env, cwd=cwd)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-15:]
        raise BuildError(
            f"{Path(cmd[0]).name} failed with exit code {proc.returncode}; log: {log}",
            "read the log; the last lines are shown above",
            details="\n".join(tail) + "\n",
        )


@lru_cache(maxsize=1)
def host_has_rpmdb() -> bool:
    """False on a non-RPM host (Debian): rpm's database is empty, BuildRequires can't be checked."""
    if shutil.which("rpm") is None:
        return False
    out = subprocess.run(["rpm", "-qa"], capture_output=True, text=True, check=False)
    return bool(out.stdout.strip())


def run_sandboxed(
    cmd: list[str],
    log: Path,
    *,
    cwd: Path,
    writable: list[Path],
    readable: list[Path],
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> None:
    """Run an rpm tool that executes a spec's scripts (``rpmbuild --rebuild``, ``-bp``) in the
    sandbox over the host's system directories: only ``writable`` writable, ``readable``
    read-only, a private /tmp and HOME, TMPDIR on disk below the first writable directory,
    no network, no capabilities (infra/sandbox.py)."""
    from emtk3s.infra import sandbox

    # /tmp and /var/tmp are the sandbox's own small tmpfs; big temporary files (a Go build's)
    # go to TMPDIR, on disk below the work directory
    scratch = writable[0] / ".tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    lim = sandbox.build_limits() if timeout is None else sandbox.limits(timeout)
    sb = sandbox.host_view(
        cwd=cwd,
        env={"HOME": "/tmp", "TMPDIR": str(scratch), **(env or {})},
        writable=writable,
        readable=[macros.path(), *readable],
        hide=(),
        lim=lim,
    )
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    proc = sandbox.run(sb, cmd, log=log)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-15:]
        raise BuildError(
            f"{Path(cmd[0]).name} failed with exit code {proc.returncode}; log: {log}",
            "read the log; the last lines are shown above",
            details="\n".join(tail) + "\n",
        )
