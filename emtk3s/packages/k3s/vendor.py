"""Go vendor tarballs: `go mod vendor` in the unpacked upstream source, with the `go` on PATH,
honouring GOPROXY, GOFLAGS, GONOSUMDB, GOSUMDB, GOPRIVATE and GOINSECURE from the environment,
then packed deterministically (tarballs.deterministic_tar): the same inputs give the same bytes.
The RPM build then uses `-mod=vendor` with no network."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from emtk3s.infra import sandbox
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


#: where a download may come from when GOPROXY is not set (no "direct": no arbitrary VCS host)
DEFAULT_GOPROXY = "https://proxy.golang.org"


def check_goproxy(env: dict[str, str]) -> list[Path]:
    """Refuse a GOPROXY that lets go fetch from any host ("direct"); set the default when unset.
    Returns the local directories of file:// proxies (bound read-only into the sandbox)."""
    env.setdefault("GOPROXY", DEFAULT_GOPROXY)
    local = []
    for entry in re.split(r"[,|]", env["GOPROXY"]):
        if entry in ("direct", ""):
            raise InputError(
                f"GOPROXY {env['GOPROXY']!r} lets go download from any host ({entry or 'empty'!r})",
                "set GOPROXY to your module proxy(s) or a file:// mirror, without 'direct'",
            )
        if entry.startswith("file://"):
            local.append(Path(entry.removeprefix("file://")))
        elif entry != "off" and not entry.startswith(("https://", "http://")):
            raise InputError(f"GOPROXY entry {entry!r} is not a URL", "use https:// or file://")
    return local


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
    env = go_env(work, cache_root)
    proxies = check_goproxy(env)
    modcache = Path(env["GOMODCACHE"])
    modcache.mkdir(parents=True, exist_ok=True)
    goroot = Path(go).resolve().parent.parent
    # upstream code (go.mod, module downloads) runs in the generator sandbox: the host's system
    # read-only, the work tree and module cache writable, network only for a remote GOPROXY
    proc = sandbox.run_generator(
        [go, "mod", "vendor"],
        cwd=top,
        env=env,
        writable=[work, modcache],
        readable=[goroot, *proxies],
        net=any(not p.startswith("file://") for p in env["GOPROXY"].split(",") if p != "off"),
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
