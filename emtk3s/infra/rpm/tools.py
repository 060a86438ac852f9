"""Running rpm tools (rpmbuild, rpmspec, rpmlint) with logs to files."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

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
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "LC_ALL": "C", "TZ": "UTC", **(env or {})}
    with open(log, "wb") as fh:
        fh.write(("$ " + " ".join(cmd) + "\n").encode())
        fh.flush()
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=full_env, cwd=cwd)
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
