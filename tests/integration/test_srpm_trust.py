"""An SRPM is checked against the lock, not only against its stamp (stages/srpm.py), and a
stamp can name only the outputs its stage writes (infra/stamps.py).

A stamp is a file in the project: whoever can swap an SRPM can rewrite its stamp to match
(sha256, stat record). Under ``--verify`` (and ``--locked``, which implies it) the SRPM's
payload is hashed and compared with SPECS/ and the lock before anything is built. A stamp
naming ``emtk3s.lock`` as its SRPM (or its RPM) would make the stage delete the lock before
making the output again: such a stamp is malformed (exit 2), nothing is deleted.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from tests.conftest import ProjectDir as Project

PKG = "k3s-iptables-helpers"


def _built(project: Project) -> Project:
    project.write_release(packages=[PKG])
    project.run("all")
    return project


def _poisoned_srpm(srpm: Path, work: Path) -> Path:
    """The same SRPM (name, sources) but a spec that also installs /etc/poisoned."""
    src = work / "src"
    src.mkdir(parents=True)
    cpio = subprocess.run(["rpm2cpio", str(srpm)], capture_output=True, check=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=cpio, cwd=src, check=True)
    (spec,) = src.glob("*.spec")
    text = spec.read_text()
    text = text.replace(
        "%install\n",
        "%install\nmkdir -p %{buildroot}/etc\necho poisoned > %{buildroot}/etc/poisoned\n",
        1,
    )
    text = text.replace("%files\n", "%files\n/etc/poisoned\n", 1)
    spec.write_text(text)
    top = work / "top"
    subprocess.run(
        [
            "rpmbuild",
            "-bs",
            "--define",
            f"_topdir {top}",
            "--define",
            f"_sourcedir {src}",
            "--define",
            "dist .emt3",
            str(spec),
        ],
        capture_output=True,
        check=True,
    )
    (made,) = (top / "SRPMS").glob("*.src.rpm")
    assert made.name == srpm.name
    return made


def test_swapped_srpm_and_stamp_are_refused_under_verify_and_locked(
    project: Project, tmp_path: Path
) -> None:
    _built(project)
    (srpm,) = (project.root / "SRPMS").glob("*.src.rpm")
    (rpm,) = (project.root / "RPMS" / "noarch").glob("*.rpm")
    rpm_before = rpm.read_bytes()
    poisoned = _poisoned_srpm(srpm, tmp_path / "poison")
    srpm.write_bytes(poisoned.read_bytes())
    stamp_file = project.root / ".emtk3s" / "state" / f"srpm-{PKG}.json"
    stamp = json.loads(stamp_file.read_text())
    stamp["sha256"] = hashlib.sha256(srpm.read_bytes()).hexdigest()
    stamp["stat"] = None  # no record: rehashed, and the hash matches the stamp
    stamp_file.write_text(json.dumps(stamp))
    for args in (("--verify", "build"), ("all", "--locked")):
        res = project.run(*args, check=False)
        assert res.code == 3, (args, res.out, res.err)
        last = res.err.strip().splitlines()[-1]
        assert str(srpm) in last and "do not match the lock" in last and ".spec" in last
        assert rpm.read_bytes() == rpm_before  # nothing was built from it
        assert (
            "poisoned"
            not in subprocess.run(["rpm", "-qlp", str(rpm)], capture_output=True, text=True).stdout
        )


def test_an_honest_srpm_passes_the_content_check(project: Project) -> None:
    _built(project)
    res = project.run("--json", "--verify", "srpm").json["result"]["srpms"][0]
    assert res["skipped"] is True


def test_a_stamp_naming_the_lock_as_its_srpm_deletes_nothing(project: Project) -> None:
    _built(project)
    lock = project.root / "emtk3s.lock"
    before = lock.read_bytes()
    stamp_file = project.root / ".emtk3s" / "state" / f"srpm-{PKG}.json"
    for name in ("emtk3s.lock", "SRPMS/../emtk3s.lock", "SPECS/x.src.rpm", "SRPMS/a/b.src.rpm"):
        stamp = json.loads(stamp_file.read_text())
        stamp["srpm"] = name
        stamp_file.write_text(json.dumps(stamp))
        res = project.run("srpm", "--force", check=False)
        assert res.code == 2, (name, res.err)
        assert str(stamp_file) in res.err and "malformed stamp" in res.err
        assert lock.read_bytes() == before


def test_a_build_stamp_naming_the_lock_deletes_nothing(project: Project) -> None:
    _built(project)
    lock = project.root / "emtk3s.lock"
    before = lock.read_bytes()
    stamp_file = project.root / ".emtk3s" / "state" / f"build-{PKG}.json"
    stamp = json.loads(stamp_file.read_text())
    stamp["sha"] = {"emtk3s.lock": "0" * 64}
    stamp_file.write_text(json.dumps(stamp))
    res = project.run("build", "--force", check=False)
    assert res.code == 2 and str(stamp_file) in res.err and "malformed stamp" in res.err
    assert lock.read_bytes() == before
