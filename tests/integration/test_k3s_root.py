"""k3s-root built natively from fixture trees with the upstream layout: the tag's facts, a
buildroot `make source` download tarball, %prep with the overlay and patches (ours replacing the
host-headers one), an offline %build, and k3s-root's packaging layout in the dist tarballs."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.conftest import Project, make_project
from tests.fixtures import autotools_projects, k3s_root_tree
from tests.fixtures.upstream import Upstream

REPO = Path(__file__).resolve().parents[2]
MACROS = str(REPO / "emtk3s/data/emt.macros")
PREBUILT = ("releases/download", "k3s-root-amd64.tar#", "k3s-airgap-images")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Project:
    p = make_project(tmp_path_factory.mktemp("root") / "proj", upstream)
    p.write_release(packages=["k3s-root"])
    p.run("all", "--nodeps")
    return p


def _members(tar: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tar) as tf:
        return {m.name.removeprefix("./"): m for m in tf.getmembers()}


def test_dist_tarballs_have_k3s_roots_layout(built: Project) -> None:
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


def test_lock_prep_and_offline_build(built: Project) -> None:
    lock = built.lock
    facts = lock["components"]["k3s-root"]["facts"]
    assert (
        facts["buildroot_version"] == "2024.02.7" and facts["container_file"] == "Dockerfile.dapper"
    )
    srcs = {s["name"]: s for s in lock["packages"]["k3s-root"]["sources"]}
    assert srcs["k3s-root-0.14.1-dl.tar.gz"]["origin"] == "generated"
    with tarfile.open(
        next((built.cache / "blobs").rglob(srcs["k3s-root-0.14.1-dl.tar.gz"]["sha256"]))
    ) as tf:
        names = tf.getnames()
    assert "dl/fuse-overlayfs/fuse-overlayfs-fixture.tar.gz" in names  # buildroot's make source ran
    log = (built.root / ".emtk3s/logs/build-k3s-root.log").read_text()
    assert "download" not in log.lower() or "no network" not in log
    spec = built.root / "SPECS/k3s-root/k3s-root.spec"
    text = spec.read_text()
    for bad in PREBUILT:
        assert bad not in text
    assert "/usr/src" not in text.replace("# no fixed /usr/src path.", "")
    for arch, brarch in (("x86_64", "amd64"), ("aarch64", "arm64")):
        parsed = subprocess.run(
            ["rpmspec", "-P", "--target", arch, "--load", MACROS, str(spec)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"source/buildroot/{brarch}config" in parsed
        # rpm 4.18's rpmspec -P prints no %build line: check %prep and %build together
        build = parsed[parsed.index("%prep") : parsed.index("%install")]
        for cmd in ("curl", "wget ", "git clone", "docker", "dapper"):
            assert cmd not in build


def test_generated_download_tarball_is_reproducible(
    built: Project, tmp_path: Path, upstream: Upstream
) -> None:
    other = make_project(tmp_path / "other", upstream)
    other.write_release(packages=["k3s-root"])
    other.run("resolve")
    other.run("fetch")
    a = next(
        s for s in built.lock["packages"]["k3s-root"]["sources"] if s["name"].endswith("-dl.tar.gz")
    )
    b = next(
        s for s in other.lock["packages"]["k3s-root"]["sources"] if s["name"].endswith("-dl.tar.gz")
    )
    assert a["sha256"] == b["sha256"]


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
    br = {
        "Makefile": autotools_projects.FIXTURE_MAKEFILE,
        **autotools_projects.buildroot_build_files(),
        "package/fuse-overlayfs/fuse-overlayfs.mk": "FUSE_OVERLAYFS_VERSION = 1.13\n",
    }
    up.commit_tag("buildroot/buildroot", br, "2025.02.14", 1780000000)
    p = make_project(tmp_path / "p", up)
    p.write_release(packages=["k3s-root"], k3s_root="v0.15.2")
    res = p.run("--json", "all", "--until", "srpm").json["result"]
    srpm = Path(res["stages"]["srpm"]["srpms"][0]["srpm"])
    assert srpm.name == "k3s-root-0.15.2-1.emt3.src.rpm"
    facts = p.lock["components"]["k3s-root"]["facts"]
    assert facts["buildroot_version"] == "2025.02.14" and facts["container_file"] == "Dockerfile"
    assert p.lock["components"]["buildroot"]["facts"]["packages"]["fuse-overlayfs"] == "1.13"
    text = (p.root / "SPECS/k3s-root/k3s-root.spec").read_text()
    assert "buildroot 2025.02.14" in text and "(Dockerfile)" in text
    for bad in PREBUILT:
        assert bad not in text


def test_archives_are_pinned_at_resolve_from_the_git_tree(built: Project) -> None:
    """GitHub tag archives are `git archive | gzip -n`: resolve pins them before any download,
    and the download (from the fixture server, which serves them the GitHub way) matches."""
    srcs = {s["name"]: s for s in built.lock["packages"]["k3s-root"]["sources"]}
    assert srcs["k3s-root-0.14.1.tar.gz"]["origin"] == "git-archive"
    assert srcs["buildroot-2024.02.7.tar.gz"]["origin"] == "git-archive"
