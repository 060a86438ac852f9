"""The helper-scripts RPM on a read-only image: scripts under /usr (read-only), the links they
switch under /run (made by systemd-tmpfiles from the packaged config), and switching modes at
run time really works — exercised by running the packaged scripts against stub tools."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

PKG = "k3s-iptables-helpers"
REAL_K3S_ROOT = Path("/work/.mirror/k3s-io+k3s-root/repo")


def _extract(rpm_file: Path, root: Path) -> None:
    root.mkdir(parents=True)
    cpio = subprocess.run(["rpm2cpio", str(rpm_file)], capture_output=True, check=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=cpio, cwd=root, check=True)


def _apply_tmpfiles(conf: Path, root: Path) -> Path:
    """Do what systemd-tmpfiles does with the 'd' and 'L' lines of the packaged config, under
    ``root`` (absolute link targets are taken inside ``root``, as they would be on the image)."""
    runtime: Path | None = None
    for line in conf.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        kind, path = fields[0], fields[1]
        assert kind in ("d", "L"), f"unexpected tmpfiles entry {line!r}"
        target = root / path.lstrip("/")
        if kind == "d":
            target.mkdir(parents=True)
            os.chmod(target, int(fields[2], 8))
            runtime = target
        else:
            link_to = fields[6]
            os.symlink(
                str(root / link_to.lstrip("/")) if link_to.startswith("/") else link_to, target
            )
    assert runtime is not None
    return runtime


def _stub(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _image(
    tmp_path: Path, rpm_file: Path, legacy_rules: int, nft_rules: int
) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "image"
    _extract(rpm_file, root)
    conf = root / "usr/lib/tmpfiles.d" / f"{PKG}.conf"
    runtime = _apply_tmpfiles(conf, root)
    # the host's iptables back ends (EMT's iptables package provides them in /usr/sbin)
    for backend in ("legacy", "nft"):
        _stub(root / f"usr/sbin/xtables-{backend}-multi", f'echo "{backend}:$(basename "$0") $*"\n')
    stubs = tmp_path / "stubs"
    for cmd, n in (("iptables-legacy-save", legacy_rules), ("iptables-nft-save", nft_rules)):
        _stub(
            stubs / cmd,
            f'i=0; while [ $i -lt {n} ]; do echo "-A INPUT -j ACCEPT"; i=$((i+1)); done\n',
        )
        _stub(stubs / cmd.replace("iptables", "ip6tables"), "exit 0\n")
    # read-only image: /usr may not be written by the scripts
    for dirpath, _dirs, files in os.walk(root / "usr"):
        for f in files:
            p = Path(dirpath) / f
            p.chmod(p.stat().st_mode & ~0o222)
    env = {"PATH": f"{runtime}:{stubs}:/usr/bin:/bin", "LC_ALL": "C"}
    return runtime, env


@pytest.fixture(scope="module")
def helper_rpm(tmp_path_factory: pytest.TempPathFactory, upstream: object) -> Path:
    from tests.conftest import make_project

    p = make_project(tmp_path_factory.mktemp("helpers") / "proj", upstream)  # type: ignore[arg-type]
    p.write_release(packages=[PKG])
    p.run("all")
    return next((p.root / "RPMS" / "noarch").glob("*.rpm"))


def _links(runtime: Path) -> dict[str, str]:
    names = [
        "iptables",
        "iptables-save",
        "iptables-restore",
        "ip6tables",
        "ip6tables-save",
        "ip6tables-restore",
    ]
    return {n: os.readlink(runtime / n) for n in names}


def test_detects_legacy_switches_links_in_run_and_execs_backend(
    helper_rpm: Path, tmp_path: Path
) -> None:
    runtime, env = _image(tmp_path, helper_rpm, legacy_rules=12, nft_rules=0)
    assert set(_links(runtime).values()) == {"iptables-detect.sh"}
    out = subprocess.run(["iptables", "-L"], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "legacy:iptables -L"
    assert set(_links(runtime).values()) == {"xtables-legacy-multi"}
    # switch at run time
    subprocess.run(["xtables-set-mode.sh", "-m", "nft"], env=env, check=True)
    assert set(_links(runtime).values()) == {"xtables-nft-multi"}
    out = subprocess.run(["ip6tables-save"], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "nft:ip6tables-save"


def test_detects_nft(helper_rpm: Path, tmp_path: Path) -> None:
    runtime, env = _image(tmp_path, helper_rpm, legacy_rules=0, nft_rules=5)
    out = subprocess.run(["iptables-save"], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "nft:iptables-save"


def test_scripts_installed_read_only_and_never_write_usr(helper_rpm: Path, tmp_path: Path) -> None:
    runtime, env = _image(tmp_path, helper_rpm, legacy_rules=12, nft_rules=0)
    before = sorted(str(p) for p in (tmp_path / "image" / "usr").rglob("*"))
    subprocess.run(["iptables", "-S"], env=env, capture_output=True, check=True)
    after = sorted(str(p) for p in (tmp_path / "image" / "usr").rglob("*"))
    assert before == after
    assert runtime.parts[-2:] == ("run", PKG)


@pytest.mark.skipif(
    not REAL_K3S_ROOT.is_dir(), reason="real k3s-root clone not present (offline CI)"
)
def test_real_upstream_scripts_work_with_this_layout(helper_rpm: Path, tmp_path: Path) -> None:
    """Where a clone of the real k3s-io/k3s-root is at hand, run ITS scripts in our layout."""
    runtime, env = _image(tmp_path, helper_rpm, legacy_rules=12, nft_rules=0)
    libexec = tmp_path / "image" / "usr/libexec" / PKG
    for name in ("iptables-detect.sh", "xtables-set-mode.sh"):
        blob = subprocess.run(
            ["git", "cat-file", "blob", f"v0.14.1:iptables-detect/{name}"],
            cwd=REAL_K3S_ROOT,
            capture_output=True,
            check=True,
        ).stdout
        (libexec / name).chmod(0o755)
        (libexec / name).write_bytes(blob)
    if shutil.which("which") is None:
        pytest.skip("`which` is not installed")
    out = subprocess.run(["iptables", "-L"], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "legacy:iptables -L"
    assert set(_links(runtime).values()) == {"xtables-legacy-multi"}
