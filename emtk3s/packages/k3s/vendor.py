"""Go vendor tarballs: `go mod vendor` in the unpacked upstream source, with the `go` on PATH,
honouring GOPROXY, GOFLAGS, GONOSUMDB, GOSUMDB, GOPRIVATE and GOINSECURE from the environment,
then packed deterministically (tarballs.deterministic_tar): the same inputs give the same bytes.
The RPM build then uses `-mod=vendor` with no network."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from emtk3s.infra.errors import BuildError, EnvironmentProblem, InputError
from emtk3s.infra.safetar import safe_extract
from emtk3s.infra.tarballs import deterministic_tar

PASS_THROUGH = (
    "GOPROXY",
    "GOFLAGS",
    "GONOSUMDB",
    "GONOSUMCHECK",
    "GOSUMDB",
    "GOPRIVATE",
    "GOINSECURE",
    "GONOPROXY",
)


def go_env(work: Path, cache_root: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "LC_ALL": "C",
        "TZ": "UTC",
    }
    env.update({k: os.environ[k] for k in PASS_THROUGH if k in os.environ})
    env["GOTOOLCHAIN"] = "local"  # never download another toolchain
    env["GOMODCACHE"] = str(cache_root / "gomodcache")
    env["GOCACHE"] = str(work / "gocache")
    env["GOFLAGS"] = " ".join(x for x in (env.get("GOFLAGS", ""), "-mod=mod") if x)
    env["CGO_ENABLED"] = "0"
    return env


def make_vendor(
    source_tarball: Path, out: Path, mtime: int, work: Path, cache_root: Path, label: str = ""
) -> Path:
    """Unpack ``source_tarball`` (named ``label`` in messages), vendor it, pack vendor/ to ``out``."""
    label = label or source_tarball.name
    go = shutil.which("go")
    if go is None:
        raise EnvironmentProblem(
            "go is not installed", "apt-get install golang-go (or put go on PATH)"
        )
    src = work / "src"
    safe_extract(source_tarball, src)
    tops = [p for p in src.iterdir() if p.is_dir()]
    if len(tops) != 1 or not (tops[0] / "go.mod").is_file():
        raise InputError(f"{label}: expected one top directory with a go.mod", "")
    top = tops[0]
    proc = subprocess.run(
        [go, "mod", "vendor"], cwd=top, env=go_env(work, cache_root), capture_output=True, text=True
    )
    if proc.returncode != 0:
        msg = " ".join(proc.stderr.split())[:400]
        raise BuildError(
            f"go mod vendor failed for {label}: {msg}",
            "check GOPROXY (a module proxy or file:// mirror) and GOFLAGS",
        )
    if not (top / "vendor" / "modules.txt").is_file():
        raise BuildError(f"go mod vendor made no vendor/modules.txt for {label}", "")
    deterministic_tar(top / "vendor", out, "vendor", mtime)
    return out
