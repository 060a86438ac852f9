"""The host does not trust what a build leaves behind (builders/outputs.py).

A hostile ``%install`` plants files in rpmbuild's own ``%{_topdir}/RPMS/``: an RPM whose header
arch is a relative path (publishing used the header's arch as a directory name, so the file
landed outside the project), a symbolic link to an RPM outside the project (published as the
link), an RPM of a package the spec does not declare. Each is refused: exit 3 naming the file,
nothing published into RPMS/, nothing written outside the project. Real rpmbuild, real chain.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emtk3s.builders import outputs
from emtk3s.infra.errors import IntegrityError

SPEC = """Name:           hostile
Version:        1.0
Release:        1
Summary:        plants files among its build results (test fixture)
License:        MIT
BuildArch:      noarch
{source}

%description
Fixture.

%package extra
Summary:        declared, never built (no %files)

%description extra
Fixture.

%install
mkdir -p %{{buildroot}}/usr/share/hostile
echo payload > %{{buildroot}}/usr/share/hostile/payload
mkdir -p %{{_topdir}}/RPMS/noarch
{plant}

%files
/usr/share/hostile/payload

%changelog
* Fri Nov 08 2024 T <t@example.invalid> - 1.0-1
- Fixture.
"""

PLAIN = """Name:           {name}
Version:        1.0
Release:        1
Summary:        a made-up package (test fixture)
License:        MIT

%description
Fixture.

%files

%changelog
* Fri Nov 08 2024 T <t@example.invalid> - 1.0-1
- Fixture.
"""


def _rpm(tmp: Path, name: str, *defines: str) -> Path:
    """An RPM made outside any project (the file a hostile build would plant or point at)."""
    top = tmp / f"top-{name}-{len(defines)}"
    spec = tmp / f"{name}.spec"
    spec.write_text(PLAIN.format(name=name))
    args: list[str] = []
    for d in defines:
        args += ["--define", d]
    subprocess.run(
        ["rpmbuild", "-bb", "--define", f"_topdir {top}", *args, str(spec)],
        capture_output=True,
        check=True,
    )
    (made,) = (top / "RPMS").rglob("*.rpm")
    return made


def _chain(
    tmp_path: Path, source: str, plant: str, extra: Path | None = None
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    root = tmp_path / "proj"
    spec_dir = root / "SPECS" / "hostile"
    spec_dir.mkdir(parents=True)
    (spec_dir / "hostile.spec").write_text(SPEC.format(source=source, plant=plant))
    if extra is not None:
        (spec_dir / extra.name).write_bytes(extra.read_bytes())
    (root / "release.toml").write_text('[release]\nk3s = "v1.32.4+k3s1"\n')
    res = subprocess.run(
        [sys.executable, "-m", "emtk3s", "-C", str(root), "--json", "chain", "--nodeps"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return root, res


def _published(root: Path) -> list[Path]:
    rpms = root / "RPMS"
    return sorted(p for p in rpms.rglob("*") if p.name.endswith(".rpm")) if rpms.exists() else []


def test_header_arch_that_is_a_path_writes_nothing_outside(tmp_path: Path) -> None:
    evil = _rpm(tmp_path, "hostile-extra", "_target_cpu ../../escape", "_rpmfilename planted.rpm")
    plant = "cp %{SOURCE0} %{_topdir}/RPMS/noarch/hostile-extra-1.0-1.noarch.rpm"
    root, res = _chain(tmp_path, "Source0:        planted.rpm", plant, evil)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "../../escape" in res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "escape").exists()
    assert not list(tmp_path.glob("escape*"))
    assert _published(root) == []


def test_symlink_to_an_outside_rpm_is_not_published(tmp_path: Path) -> None:
    outside = _rpm(tmp_path, "hostile-extra")
    plant = f"ln -s {outside} %{{_topdir}}/RPMS/noarch/{outside.name}"
    root, res = _chain(tmp_path, "", plant)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "symbolic link" in res.stdout + res.stderr
    assert _published(root) == []
    assert outside.is_file()


def test_rpm_of_an_undeclared_package_is_refused(tmp_path: Path) -> None:
    intruder = _rpm(tmp_path, "intruder")
    plant = f"cp %{{SOURCE0}} %{{_topdir}}/RPMS/noarch/{intruder.name}"
    root, res = _chain(tmp_path, f"Source0:        {intruder.name}", plant, intruder)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "'intruder' is not one the SRPM's spec declares" in res.stdout + res.stderr
    assert _published(root) == []


def test_honest_build_publishes_the_declared_rpm(tmp_path: Path) -> None:
    root, res = _chain(tmp_path, "", "true")
    assert res.returncode == 0, res.stdout + res.stderr
    (entry,) = json.loads(res.stdout)["result"]["packages"]
    assert entry["status"] == "built"
    assert [p.relative_to(root / "RPMS") for p in _published(root)] == [
        Path("noarch/hostile-1.0-1.noarch.rpm")
    ]


# --- the checks one by one, on files a test puts in a build's directory ---------------------


@pytest.fixture()
def made(tmp_path: Path) -> tuple[Path, Path, outputs.Expected]:
    """A work directory holding one honest RPM of package ``hostile``."""
    work = tmp_path / "work"
    (work / "RPMS" / "noarch").mkdir(parents=True)
    good = _rpm(tmp_path, "hostile")
    dest = work / "RPMS" / "noarch" / good.name
    dest.write_bytes(good.read_bytes())
    exp = outputs.Expected(outputs.declared_names("hostile", "%package extra\n"), "1.0", "1")
    return work, dest, exp


def test_hard_link_fifo_and_directory_results_are_refused(
    made: tuple[Path, Path, outputs.Expected], tmp_path: Path
) -> None:
    work, good, exp = made
    rpms = tmp_path / "RPMS"
    twin = tmp_path / "outside.rpm"
    os.link(good, twin)  # a result that is also a file elsewhere
    with pytest.raises(IntegrityError, match="hard links"):
        outputs.publish([good], work, rpms, exp)
    twin.unlink()
    fifo = good.with_name("hostile-extra-1.0-1.x86_64.rpm")
    os.mkfifo(fifo)
    with pytest.raises(IntegrityError, match="not a regular file"):  # and does not hang
        outputs.publish(outputs.find_rpms(work / "RPMS"), work, rpms, exp)
    fifo.unlink()
    fifo.mkdir()
    with pytest.raises(IntegrityError, match="not a regular file"):
        outputs.publish(outputs.find_rpms(work / "RPMS"), work, rpms, exp)
    fifo.rmdir()
    assert not rpms.exists()
    (out,) = outputs.publish([good], work, rpms, exp)
    assert out == rpms / "x86_64" / good.name and not out.is_symlink()


def test_a_directory_link_on_the_way_is_refused(
    made: tuple[Path, Path, outputs.Expected], tmp_path: Path
) -> None:
    work, good, exp = made
    elsewhere = tmp_path / "elsewhere"
    (work / "RPMS" / "noarch").rename(elsewhere)
    (work / "RPMS" / "noarch").symlink_to(elsewhere)
    with pytest.raises(IntegrityError, match="symbolic link"):
        outputs.publish([good], work, tmp_path / "RPMS", exp)
    with pytest.raises(IntegrityError, match="not inside"):
        outputs.publish([elsewhere / good.name], work, tmp_path / "RPMS", exp)


def test_copy_out_of_a_build_tree_follows_no_link(
    made: tuple[Path, Path, outputs.Expected], tmp_path: Path
) -> None:
    """The chroot backend copies results out of the tree the build wrote: a result that is a
    link to a host file, or a ``/builddir`` replaced by a link to a host directory, is refused
    and never read."""
    work, good, _exp = made
    secret = tmp_path / "secret"
    secret.write_text("host secret\n")
    upper = tmp_path / "upper"
    rpms = upper / "builddir" / "build" / "RPMS" / "noarch"
    rpms.mkdir(parents=True)
    (rpms / good.name).write_bytes(good.read_bytes())
    assert [p.name for p in outputs.copy_out(upper, "builddir/build/RPMS", tmp_path / "a")] == [
        good.name
    ]
    (rpms / "hostile-extra-1.0-1.noarch.rpm").symlink_to(secret)
    with pytest.raises(IntegrityError, match="symbolic link"):
        outputs.copy_out(upper, "builddir/build/RPMS", tmp_path / "b")
    assert not (tmp_path / "b" / "hostile-extra-1.0-1.noarch.rpm").exists()
    (rpms / "hostile-extra-1.0-1.noarch.rpm").unlink()
    (upper / "builddir").rename(tmp_path / "real-builddir")
    (upper / "builddir").symlink_to(tmp_path / "real-builddir")
    with pytest.raises(IntegrityError, match="symbolic link"):
        outputs.copy_out(upper, "builddir/build/RPMS", tmp_path / "c")


@pytest.mark.skipif(os.geteuid() != 0, reason="the chroot backend needs root")
def test_chroot_backend_never_reads_a_result_that_links_to_a_host_file(tmp_path: Path) -> None:
    """In the chroot backend the build's tree is read from the host: a result that is an
    absolute symlink (``/etc/shadow``) would name the host's file there."""
    from tests.fixtures import chroot as chroot_fixture

    root = chroot_fixture.worker_chroot()
    secret = tmp_path / "host-secret"
    secret.write_text("host secret\n")
    proj = tmp_path / "proj"
    spec_dir = proj / "SPECS" / "hostile"
    spec_dir.mkdir(parents=True)
    plant = f"ln -s {secret} %{{_topdir}}/RPMS/noarch/hostile-extra-1.0-1.noarch.rpm"
    (spec_dir / "hostile.spec").write_text(SPEC.format(source="", plant=plant))
    (proj / "release.toml").write_text('[release]\nk3s = "v1.32.4+k3s1"\n')
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "emtk3s",
            "-C",
            str(proj),
            "chain",
            "--backend",
            "chroot",
            "--chroot",
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 3, res.stdout + res.stderr
    assert "symbolic link" in res.stderr
    assert _published(proj) == []
    copied = [p for p in (proj / ".emtk3s").rglob("*") if p.is_file() and not p.is_symlink()]
    assert not [p for p in copied if p.read_bytes() == b"host secret\n"]
