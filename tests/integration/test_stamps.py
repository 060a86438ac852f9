"""Stage stamps: they name outputs relative to the project, so a copied
project never takes the original's outputs for its own nor deletes them; a malformed stamp is
an error naming its file (exit 2), never an internal error and never a deletion outside."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import ProjectDir, make_project

PKG = "k3s-iptables-helpers"


def _built(project: ProjectDir) -> ProjectDir:
    project.write_release(packages=[PKG])
    project.run("all")
    return project


def test_a_copied_project_keeps_to_its_own_outputs(project: ProjectDir, tmp_path: Path) -> None:
    _built(project)
    srpm = next((project.root / "SRPMS").glob("*.src.rpm"))
    rpm = next((project.root / "RPMS" / "noarch").glob("*.rpm"))
    stamp = json.loads((project.root / ".emtk3s/state/srpm-k3s-iptables-helpers.json").read_text())
    assert stamp["srpm"] == f"SRPMS/{srpm.name}"  # relative to the project

    copy = ProjectDir(tmp_path / "copy", project.cache, project.upstream)
    shutil.copytree(project.root, copy.root, symlinks=True)
    info = copy.run("--json", "srpm").json["result"]["srpms"][0]
    assert info["skipped"] is True and Path(info["srpm"]).parent == copy.root / "SRPMS"
    # forced rebuilds in the copy replace the copy's outputs, never the original's
    copy.run("srpm", "--force")
    built = copy.run("--json", "build", "--force").json["result"]["builds"][0]
    assert [Path(p).parent for p in built["rpms"]] == [copy.root / "RPMS" / "noarch"]
    assert srpm.is_file() and rpm.is_file()
    # and the original still takes its outputs as up to date
    again = project.run("--json", "build").json["result"]["builds"][0]
    assert again["skipped"] is True and again["rpms"] == [str(rpm)]


def test_a_malformed_stamp_names_its_file(project: ProjectDir) -> None:
    _built(project)
    stamp = project.root / ".emtk3s" / "state" / f"srpm-{PKG}.json"
    stamp.write_text("{not json")
    res = project.run("srpm", check=False)
    assert res.code == 2, res.err
    last = res.err.strip().splitlines()[-1]
    assert str(stamp) in last and "malformed stamp" in last and "internal error" not in res.err


def test_a_stamp_pointing_outside_the_project_is_refused_not_followed(
    project: ProjectDir, tmp_path: Path
) -> None:
    _built(project)
    outside = tmp_path / "precious.rpm"
    outside.write_bytes(b"not ours")
    stamp = project.root / ".emtk3s" / "state" / f"build-{PKG}.json"
    data = json.loads(stamp.read_text())
    data["sha"] = {str(outside): "0" * 64}
    stamp.write_text(json.dumps(data))
    res = project.run("build", "--force", check=False)
    assert res.code == 2 and str(stamp) in res.err and "not a path inside" in res.err
    assert outside.read_bytes() == b"not ours"


def test_stamps_of_an_older_emtk3s_are_ignored(project: ProjectDir, tmp_path: Path) -> None:
    _built(project)
    other = make_project(tmp_path / "elsewhere", project.upstream)
    victim = other.root / "SRPMS" / "old.src.rpm"
    victim.parent.mkdir(parents=True)
    victim.write_bytes(b"x")
    stamp = project.root / ".emtk3s" / "state" / f"srpm-{PKG}.json"
    stamp.write_text(json.dumps({"key": "k", "srpm": str(victim), "sha256": "0", "nevr": "n"}))
    res = project.run("--json", "srpm").json["result"]["srpms"][0]
    assert res["skipped"] is False  # rebuilt, the old absolute path neither trusted nor removed
    assert victim.is_file()
