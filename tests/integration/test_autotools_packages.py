"""fuse-overlayfs and slirp4netns: resolved at the versions k3s-root's buildroot pins, pinned by
buildroot's own .hash records, built for real (autotools + gcc, %check runs) and installable."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import ProjectDir
from tests.fixtures import autotools_projects

PKGS = ["fuse-overlayfs", "slirp4netns"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, upstream: object) -> ProjectDir:
    from tests.conftest import make_project

    p = make_project(tmp_path_factory.mktemp("auto") / "proj", upstream)  # type: ignore[arg-type]
    p.write_release(packages=PKGS)
    p.run("all", "--nodeps")
    return p


def test_versions_follow_k3s_roots_buildroot_and_hashes_come_from_its_records(
    built: ProjectDir,
) -> None:
    lock = built.lock
    assert lock["components"]["buildroot"]["tag"] == autotools_projects.BUILDROOT_TAG
    assert lock["components"]["k3s-root"]["facts"]["buildroot_version"] == "2024.02.7"
    assert lock["components"]["k3s-root"]["facts"]["container_file"] == "Dockerfile.dapper"
    for name, (_repo, version) in autotools_projects.PINS.items():
        assert lock["components"][name]["tag"] == f"v{version}"
        src = lock["packages"][name]["sources"][0]
        assert src["name"] == f"{name}-{version}.tar.gz"
        # pinned from the git tree; buildroot's recorded hash pins only buildroot's own
        # download of it (a k3s-root Source), never another package's source
        assert src["origin"] == "git-archive"
        br = lock["components"]["buildroot"]["facts"]["downloads"]
        recorded = next(d for d in br if d["dl_dir"] == name)
        assert src["sha256"] == recorded["sha256"]  # the same bytes either way


def test_rpms_built_with_check_and_contents(built: ProjectDir) -> None:
    for name, (_repo, version) in autotools_projects.PINS.items():
        rpm_file = next(
            (built.root / "RPMS" / "x86_64").glob(f"{name}-{version}-1.emt3.x86_64.rpm")
        )
        files = subprocess.run(
            ["rpm", "-qpl", str(rpm_file)], capture_output=True, text=True, check=True
        ).stdout
        assert f"/usr/bin/{name}\n" in files
        assert f"/usr/share/man/man1/{name}.1" in files
        assert f"/usr/share/licenses/{name}/COPYING" in files
        reqs = subprocess.run(
            ["rpm", "-qpR", str(rpm_file)], capture_output=True, text=True, check=True
        ).stdout
        assert "libc.so.6" in reqs
        log = (built.root / ".emtk3s" / "logs" / f"build-{name}.log").read_text()
        assert "%check" in log or "Executing(%check)" in log
        assert f"{name} version {version}" in log  # the %check smoke test ran the built binary
        lint = subprocess.run(
            ["rpmlint", "-c", str(Path("emtk3s/data/rpmlint.toml").resolve()), str(rpm_file)],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert " 0 errors" in lint.stdout, lint.stdout


def test_rpms_install_into_an_empty_root(built: ProjectDir, tmp_path: Path) -> None:
    rpms = [str(f) for n in PKGS for f in (built.root / "RPMS" / "x86_64").glob(f"{n}-*.rpm")]
    # the root has no glibc/fuse3 packages: check the transaction with --nodeps, install for real
    subprocess.run(["rpm", "--root", str(tmp_path), "--initdb"], check=True)
    subprocess.run(
        ["rpm", "--root", str(tmp_path), "-i", "--nodeps", *rpms], check=True, capture_output=True
    )
    out = subprocess.run(
        ["rpm", "--root", str(tmp_path), "-qa"], capture_output=True, text=True
    ).stdout
    assert "fuse-overlayfs-1.11-1.emt3.x86_64" in out and "slirp4netns-1.2.0-1.emt3.x86_64" in out
    assert (tmp_path / "usr/bin/fuse-overlayfs").is_file()


def test_specs_parse_for_both_arches(built: ProjectDir) -> None:
    for name in PKGS:
        spec = built.root / "SPECS" / name / f"{name}.spec"
        for arch in ("x86_64", "aarch64"):
            subprocess.run(
                [
                    "rpmspec",
                    "-P",
                    "--target",
                    arch,
                    "--load",
                    str(Path(__file__).resolve().parents[2] / "emtk3s/data/emt.macros"),
                    str(spec),
                ],
                check=True,
                capture_output=True,
            )
        text = spec.read_text()
        assert (
            "%patch" not in text.replace("%patch -P", "")
            and "Vendor:         Intel Corporation" in text
        )
