"""The k3s-root download tarball: buildroot's own `make source` (which verifies every download
against buildroot's .hash files) run once per architecture on the tree %prep will build —
buildroot unpacked, k3s-root's package/ overlay copied in, k3s-root's patches applied, .config =
arch config + common config — then BR2_DL_DIR packed deterministically, so %build needs no
network."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from emtk3s.infra import sandbox
from emtk3s.infra.errors import BuildError, InputError
from emtk3s.infra.safetar import safe_extract
from emtk3s.infra.tarballs import deterministic_tar

ARCH_CONFIG = {"x86_64": "amd64config", "aarch64": "arm64config"}
#: k3s-root's patch emtk3s replaces (it copies headers into the build host's /usr/include)
REPLACED_PATCHES = ("0100-package-linux-headers-install.patch",)


def _top(archive: Path, dest: Path, label: str) -> Path:
    safe_extract(archive, dest)
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise InputError(f"{label}: expected one top directory", "check the archive")
    return tops[0]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], what: str, net: bool = False) -> None:
    if cmd[0] == "make":  # buildroot's Makefile is upstream code: the generator sandbox runs it
        proc = sandbox.run_generator(cmd, cwd=cwd, env=env, writable=[Path(env["HOME"])], net=net)
    else:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = " ".join((proc.stderr or proc.stdout).split())[-400:]
        raise BuildError(
            f"{what} failed: {tail}", "see buildroot's output; the mirror may lack a download"
        )


def prepare_tree(buildroot_tgz: Path, k3s_root_tgz: Path, work: Path) -> tuple[Path, Path]:
    br = _top(buildroot_tgz, work / "br", "buildroot archive")
    kr = _top(k3s_root_tgz, work / "kr", "k3s-root archive")
    if (kr / "package").is_dir():
        shutil.copytree(kr / "package", br / "package", dirs_exist_ok=True)
    for patch in sorted((kr / "patches").glob("*.patch")) if (kr / "patches").is_dir() else []:
        if patch.name in REPLACED_PATCHES:
            continue
        _run(
            ["patch", "-t", "-p1", "-i", str(patch)], br, dict(os.environ), f"applying {patch.name}"
        )
    return br, kr


def make_dl(
    buildroot_tgz: Path, k3s_root_tgz: Path, arches: list[str], out: Path, mtime: int, work: Path
) -> Path:
    br, kr = prepare_tree(buildroot_tgz, k3s_root_tgz, work)
    dl = work / "dl"
    dl.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "LC_ALL": "C",
        "BR2_DL_DIR": str(dl),
        "FORCE_UNSAFE_CONFIGURE": "1",
    }
    for arch in arches:
        cfg = kr / "buildroot" / ARCH_CONFIG[arch]
        common = kr / "buildroot" / "config"
        if not cfg.is_file() or not common.is_file():
            raise InputError(f"k3s-root: no buildroot/{ARCH_CONFIG[arch]} or buildroot/config", "")
        (br / ".config").write_bytes(cfg.read_bytes() + common.read_bytes())
        _run(["make", "-s", "olddefconfig"], br, env, f"buildroot make olddefconfig ({arch})")
        _run(
            ["make", "-s", "source", f"BR2_DL_DIR={dl}"],
            br,
            env,
            f"buildroot make source ({arch})",
            net=True,  # buildroot downloads; nothing else of the host is writable
        )
    deterministic_tar(dl, out, "dl", mtime)
    return out
