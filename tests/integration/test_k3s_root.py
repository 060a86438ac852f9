"""k3s-root built natively from fixture trees with the upstream layout: buildroot's show-info
run contained at resolve, one Source per download pinned by the fixture buildroot's own hash
files (a sha512-only one verified at fetch), k3s-root's own scripts with their container paths
redirected, `rpmbuild --rebuild` with no network (unshare --net) from the per-file Sources
alone, and k3s-root's packaging layout in the dist tarballs."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.conftest import ProjectDir, make_project
from tests.fixtures import buildroot_tree, k3s_root_tree
from tests.fixtures.upstream import Upstream

REPO = Path(__file__).resolve().parents[2]
MACROS = str(REPO / "emtk3s/data/emt.macros")
PREBUILT = ("releases/download", "k3s-root-amd64.tar#", "k3s-airgap-images")


def _srpm(p: ProjectDir) -> str:
    """resolve, fetch, render, srpm (validate's EMT rules are tested with the other packages)."""
    for stage in ("resolve", "fetch", "render"):
        p.run(stage)
    return str(next((p.root / "SRPMS").glob("k3s-root-*.src.rpm")) if p.run("srpm") else "")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> ProjectDir:
    """The SRPM made by the pipeline, rebuilt by rpmbuild in a new network namespace."""
    p = make_project(tmp_path_factory.mktemp("root") / "proj", upstream)
    p.write_release(packages=["k3s-root"])
    srpm = _srpm(p)
    top = p.root / "offline-build"
    proc = subprocess.run(
        ["unshare", "--map-root-user", "--net", "--", "rpmbuild", "--rebuild", "--nodeps"]
        + ["--load", MACROS, "--define", f"_topdir {top}", srpm],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (p.root / "RPMS").mkdir(exist_ok=True)
    for rpm_file in (top / "RPMS").rglob("*.rpm"):
        dest = p.root / "RPMS" / rpm_file.parent.name
        dest.mkdir(exist_ok=True)
        rpm_file.replace(dest / rpm_file.name)
    (p.root / "rpmbuild.log").write_text(proc.stdout + proc.stderr)
    return p


def _members(tar: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tar) as tf:
        return {m.name.removeprefix("./"): m for m in tf.getmembers()}


def test_dist_tarballs_have_k3s_roots_layout(built: ProjectDir) -> None:
    rpm_file = next((built.root / "RPMS" / "x86_64").glob("k3s-root-dist-0.14.1-1.emt3.x86_64.rpm"))
    files = subprocess.run(
        ["rpm", "-qpl", str(rpm_file)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert files == [
        "/usr/share/k3s-root",
        "/usr/share/k3s-root/k3s-root-amd64.tar",
        "/usr/share/k3s-root/k3s-root-xtables-amd64.tar",
    ]
    root = built.root / "unpacked"
    root.mkdir()
    cpio = subprocess.run(["rpm2cpio", str(rpm_file)], capture_output=True, check=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=cpio, cwd=root, check=True)
    m = _members(root / "usr/share/k3s-root/k3s-root-amd64.tar")
    assert m["bin/busybox"].isfile() and m["bin/coreutils"].isfile() and m["bin/aux/nft"].isfile()
    assert m["bin/ls"].linkname == "busybox" and m["bin/cat"].linkname == "coreutils"
    assert m["bin/unpigz"].linkname == "pigz"
    assert "bin/mount" not in m and m["bin/aux/mount"].linkname == "../busybox"
    assert m["bin/aux/modprobe"].linkname == "../busybox"
    assert m["bin/aux/iptables"].linkname == "iptables-detect.sh"
    assert (
        m["bin/aux/xtables-legacy-multi"].isfile()
        and m["bin/aux/iptables-legacy"].linkname == "xtables-legacy-multi"
    )
    assert m["bin/aux/iptables-detect.sh"].isfile()
    assert not any(n.startswith("bin/") and "tables" in n and n.count("/") == 1 for n in m), (
        "tables live in aux"
    )
    x = _members(root / "usr/share/k3s-root/k3s-root-xtables-amd64.tar")
    assert (
        x["bin/ip6tables-save"].linkname == "iptables-detect.sh" and "bin/xtables-set-mode.sh" in x
    )
    assert {i.uid for i in m.values()} == {0}


def test_every_download_is_its_own_pinned_source(built: ProjectDir) -> None:
    lock = built.lock
    facts = lock["components"]["k3s-root"]["facts"]
    assert facts["buildroot_version"] == "2024.02.7"
    assert facts["container_file"] == "Dockerfile.dapper"
    br = lock["components"]["buildroot"]["facts"]
    srcs = {s["name"]: s for s in lock["packages"]["k3s-root"]["sources"]}
    # the fixture's show-info list, host-tar left out (the EMT tool set has tar >= 1.35)
    files = {(d["dl_dir"], d["_file"]) for d in br["downloads"]}
    want = {(d.pkgdir, d.file) for d in buildroot_tree.DOWNLOADS if d.package != "host-tar"}
    assert want <= files and ("tar", "tar-1.35.cpio.gz") not in files
    assert br["host_tools"]["BR2_TAR_HOST_DEPENDENCY"] == ["tar", "1.35"]
    assert not any(s.endswith("-dl.tar.gz") for s in srcs)
    q = srcs["k3s-root-0.14.1-musl-compat-headers-queue.h-rev-1.70"]
    assert q["url"] == "http://cvsweb.netbsd.org/bsdweb.cgi/src/sys/sys/queue.h?rev=1.70"
    assert q["path"] == "/musl-compat-headers/queue.h%3Frev%3D1.70"
    assert q["origin"] == "buildroot-sha256"
    # pinned by sha512 only in buildroot: verified at fetch, the sha256 recorded after
    ipset = srcs["k3s-root-0.14.1-ipset-7.16.tar.bz2"]
    assert ipset["sha512"] and ipset["origin"] == "fetch-sha512-verified" and ipset["sha256"]
    spec = (built.root / "SPECS/k3s-root/k3s-root.spec").read_text()
    assert "sys/queue.h?rev=1.70#/k3s-root-0.14.1-musl-compat-headers-queue.h-rev-1.70\n" in spec
    assert "'dl/musl-compat-headers/queue.h?rev=1.70'" in spec
    sigs = (built.root / "SPECS/k3s-root/k3s-root.signatures.json").read_text()
    assert all(name in sigs for name in srcs)
    # License: from show-info, in SPDX terms, target packages only (host-binutils' GPL-3.0+ not)
    assert (
        "License:        Apache-2.0 AND BSD-3-Clause AND GPL-2.0-only AND GPL-2.0-or-later AND "
        "Zlib AND bzip2-1.0.6 AND (LicenseRef-Public-Domain OR CC0-1.0)\n" in spec
    )
    for bad in PREBUILT:
        assert bad not in spec


def test_offline_build_ran_k3s_roots_own_scripts(built: ProjectDir) -> None:
    log = (built.root / "rpmbuild.log").read_text()
    assert "patched by k3s-root" not in log  # the patch's content, not its output
    spec = built.root / "SPECS/k3s-root/k3s-root.spec"
    for arch, brarch in (("x86_64", "amd64"), ("aarch64", "arm64")):
        parsed = subprocess.run(
            ["rpmspec", "-P", "--target", arch, "--load", MACROS, str(spec)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"BUILDARCH={brarch} bash source/scripts/patch" in parsed
        prep = parsed[parsed.index("%prep") : parsed.index("%install")]
        for cmd in ("curl", "wget ", "git clone", "docker", "dapper"):
            assert cmd not in prep
    # the build used k3s-root's scripts/patch (its patch landed) and our headers hook ran
    assert "rsync -am" in log and "bash source/scripts/build" in log


def test_host_tool_fallback_is_what_buildroot_would_do(tmp_path: Path, built: ProjectDir) -> None:
    """Without the EMT assumption on make's command line, the fixture buildroot (like the real
    one) adds host-tar when the machine's tar is too old: show-info then lists its download."""
    from emtk3s.packages.k3s_root import showinfo

    tree = tmp_path / "br"
    tree.mkdir()
    for rel, text in buildroot_tree.files().items():
        f = tree / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text if isinstance(text, str) else text.decode())
    for rel, mode in buildroot_tree.MODES.items():
        (tree / rel).chmod(mode)
    (tree / ".config").write_text("BR2_PACKAGE_PIGZ=y\n")
    old_tar = tree / "fake-bin"  # inside the tree: the sandbox shows only the host system
    old_tar.mkdir()
    (old_tar / "tar").write_text("#!/bin/sh\necho 'tar (GNU tar) 1.26'\n")
    (old_tar / "tar").chmod(0o755)
    env = {"PATH": f"{old_tar}:/usr/bin:/bin", "HOME": str(tree), "LC_ALL": "C"}
    plain = json.loads(showinfo.contained(["make", "-s", "show-info"], tree, env))
    assert "host-tar" in plain
    args, requires = showinfo.host_overrides(tree)
    assert "BR2_TAR_HOST_DEPENDENCY=" in args and "BR2_LZIP_HOST_DEPENDENCY=host-lzip" in args
    forced = json.loads(showinfo.contained(["make", "-s", "show-info", *args], tree, env))
    assert "host-tar" not in forced and requires["BR2_TAR_HOST_DEPENDENCY"] == ["tar", "1.35"]


def test_changed_replaced_file_stops_resolve(fresh_upstream: Upstream, tmp_path: Path) -> None:
    up = fresh_upstream
    files = k3s_root_tree.k3s_root_files()
    files["patches/0100-package-linux-headers-install.patch"] = "a changed upstream patch\n"
    up.commit_tag("k3s-io/k3s-root", files, "v0.14.1", 1731092757)
    p = make_project(tmp_path / "p", up)
    p.write_release(packages=["k3s-root"])
    r = p.run("resolve", check=False)
    assert r.code == 2
    assert "patches/0100-package-linux-headers-install.patch changed" in r.err
    assert "REPLACED" in r.err and "Traceback" not in r.err


def test_v0_15_2_era_packs_an_srpm(fresh_upstream: Upstream, tmp_path: Path) -> None:
    """A newer k3s-root: another buildroot version, Dockerfile instead of Dockerfile.dapper."""
    up = fresh_upstream
    files = k3s_root_tree.k3s_root_files()
    del files["Dockerfile.dapper"]
    (up.make_repo("k3s-io/k3s-root") / "Dockerfile.dapper").unlink()  # git rm
    files["Dockerfile"] = "# fixture container file (v0.15 era name)\n"
    files["scripts/download"] = '#!/usr/bin/env bash\n: "${BUILDROOT_VERSION:=2025.02.14}"\n'
    up.commit_tag(
        "k3s-io/k3s-root",
        files,
        "v0.15.2",
        1781000000,
        modes={
            "iptables-detect/iptables-detect.sh": 0o755,
            "iptables-detect/xtables-set-mode.sh": 0o755,
        },
    )
    files.update(k3s_root_tree.scripts_v015())
    up.commit_tag("k3s-io/k3s-root", files, "v0.15.2", 1781000000)
    fo = b"fixture fuse-overlayfs 1.13 download\n"
    up.files["/buildroot-sources/fuse-overlayfs/fuse-overlayfs-1.13.tar.gz"] = fo
    buildroot_tree.commit(
        up,
        "2025.02.14",
        {"fuse-overlayfs": ("fuse-overlayfs-1.13.tar.gz", hashlib.sha256(fo).hexdigest())},
        when=1780000000,
    )
    p = make_project(tmp_path / "p", up)
    p.write_release(packages=["k3s-root"], k3s_root="v0.15.2")
    srpm = Path(_srpm(p))
    assert srpm.name == "k3s-root-0.15.2-1.emt3.src.rpm"
    facts = p.lock["components"]["k3s-root"]["facts"]
    assert facts["buildroot_version"] == "2025.02.14" and facts["container_file"] == "Dockerfile"
    assert p.lock["components"]["buildroot"]["facts"]["packages"]["fuse-overlayfs"] == "1.13"
    text = (p.root / "SPECS/k3s-root/k3s-root.spec").read_text()
    assert "buildroot 2025.02.14" in text and "(Dockerfile)" in text
    # v0.15.1+ scripts find the tree from their own path; the spec's check found no /source left
    assert "SOURCE=" in (up.make_repo("k3s-io/k3s-root") / "scripts/patch").read_text()
    for bad in PREBUILT:
        assert bad not in text


def test_archives_are_pinned_at_resolve_from_the_git_tree(built: ProjectDir) -> None:
    """GitHub tag archives are `git archive | gzip -n`: resolve pins them before any download,
    and the download (from the fixture server, which serves them the GitHub way) matches."""
    srcs = {s["name"]: s for s in built.lock["packages"]["k3s-root"]["sources"]}
    assert srcs["k3s-root-0.14.1.tar.gz"]["origin"] == "git-archive"
    assert srcs["buildroot-2024.02.7.tar.gz"]["origin"] == "git-archive"


def test_release_licenses_set_a_buildroot_packages_license_and_validate_shows_it(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    """release.toml's [licenses] names a buildroot package's licenses (an installed emtk3s cannot
    be edited); validate shows what was mapped; a name k3s-root does not build is refused."""
    p = make_project(tmp_path / "p", fresh_upstream)
    p.write_release(packages=["k3s-root"])
    base = (p.root / "release.toml").read_text()
    (p.root / "release.toml").write_text(
        base + '\n[licenses]\nbusybox = "GPL-2.0-only AND bzip2-1.0.6"\n'
    )
    p.run("all", "--until", "render")
    rows = p.run("--json", "validate").json["result"]["licenses"]
    busybox = next(r for r in rows if r["package"] == "k3s-root/busybox")
    assert busybox["overridden"] and busybox["terms"] == ["GPL-2.0-only", "bzip2-1.0.6"]
    assert busybox["text"] == "GPL-2.0, bzip2-1.0.4"
    pigz = next(r for r in rows if r["package"] == "k3s-root/pigz")
    assert pigz["terms"] == ["Zlib"] and not pigz["overridden"] and not pigz["unmapped"]
    human = p.run("validate").out
    assert (
        "license: k3s-root/busybox: 'GPL-2.0, bzip2-1.0.4' -> release.toml: "
        "GPL-2.0-only AND bzip2-1.0.6"
    ) in human
    spec = (p.root / "SPECS/k3s-root/k3s-root.spec").read_text()
    assert "bzip2-1.0.6" in spec and "GPL-2.0-only" in spec
    (p.root / "release.toml").write_text(base + '\n[licenses]\nbusyboxx = "MIT"\n')
    res = p.run("resolve", check=False)
    assert res.code == 2 and "[licenses] busyboxx" in res.err, res.err
    (p.root / "release.toml").write_text(base + '\n[licenses]\nbusybox = "MIT; rm -rf /"\n')
    res = p.run("resolve", check=False)
    assert res.code == 2 and "not an SPDX license expression" in res.err, res.err
