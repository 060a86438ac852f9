"""[overrides] change every derived value or are refused: overriding buildroot
moves k3s-root's buildroot_version, the buildroot source's name, path and hash, and the spec."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.conftest import make_project
from tests.fixtures.upstream import Upstream

NEW = "2024.02.8"


def test_buildroot_override_changes_every_derived_value(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    fresh_upstream.commit_tag("buildroot/buildroot", {"CHANGES": f"{NEW}\n"}, NEW, 1731000000)
    p = make_project(tmp_path / "p", fresh_upstream)
    p.write_release(packages=["k3s-root"])
    text = (p.root / "release.toml").read_text()
    (p.root / "release.toml").write_text(text + f'\n[overrides]\nbuildroot = "{NEW}"\n')
    p.run("resolve")
    lock = p.lock
    assert lock["components"]["buildroot"]["tag"] == NEW
    facts = lock["components"]["k3s-root"]["facts"]
    assert facts["buildroot_version"] == NEW
    assert "2024.02.7" in facts["_buildroot_version_upstream"]
    br = [s for s in lock["packages"]["k3s-root"]["sources"] if s["name"].startswith("buildroot-")]
    assert len(br) == 1
    assert br[0]["name"] == f"buildroot-{NEW}.tar.gz"
    assert br[0]["path"].endswith(f"/{NEW}.tar.gz")
    served = fresh_upstream.archive("buildroot/buildroot", NEW)
    assert br[0]["sha256"] == hashlib.sha256(served).hexdigest()
    p.run("all", "--until", "render")
    spec = (p.root / "SPECS" / "k3s-root" / "k3s-root.spec").read_text()
    assert f"%global br_version {NEW}" in spec and "2024.02.7" not in spec.split("%changelog")[0]


def test_override_of_an_unknown_component_is_refused(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    p = make_project(tmp_path / "p", fresh_upstream)
    text = (p.root / "release.toml").read_text()
    (p.root / "release.toml").write_text(text + '\n[overrides]\nbuildrot = "2024.02.8"\n')
    res = p.run("resolve", check=False)
    assert res.code == 2 and "buildrot: no such component" in res.err
    assert not (p.root / "emtk3s.lock").exists()
