"""A release engineer's day: changelogs that tell the truth, bump, license check."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ProjectDir, make_project
from tests.fixtures import k3s_root_tree, k3s_tree
from tests.fixtures.upstream import Upstream

PKG = "k3s-iptables-helpers"
SPEC = f"SPECS/{PKG}/{PKG}.spec"
#: the notice the Apache License asks to put in a file (not a copy of any upstream file)
APACHE_NOTICE = """Copyright 2024 The fixture authors

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
"""


def _project(up: Upstream, root: Path, release: int = 1) -> ProjectDir:
    p = make_project(root, up)
    p.write_release(packages=[PKG], release=release)
    return p


def _changelog(p: ProjectDir) -> str:
    text = (p.root / SPEC).read_text()
    return text[text.index("%changelog") :]


def _rpmspec_ok(spec: Path) -> None:
    """rpm itself parses the spec: a %changelog out of date order is an error there."""
    proc = subprocess.run(
        ["rpmspec", "-q", "--srpm", "--qf", "[%{CHANGELOGTIME}\\n]", str(spec)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "descending chronological order" not in proc.stderr, proc.stderr
    times = [int(t) for t in proc.stdout.split()]
    assert times == sorted(times, reverse=True) and len(times) >= 1


def _new_patch(up: Upstream, runc: str = "v1.2.6") -> None:
    """Upstream moves on: k3s v1.32.5+k3s1 with a newer runc and k3s-root v0.14.2."""
    root_files = k3s_root_tree.k3s_root_files()
    root_files["iptables-detect/README.md"] = "fixture v0.14.2\n"
    root_files["LICENSE"] = APACHE_NOTICE
    up.commit_tag("k3s-io/k3s-root", root_files, "v0.14.2", 1735000000)
    up.commit_tag(
        "k3s-io/k3s",
        k3s_tree.k3s_files("v0.14.2", runc=runc),
        "v1.32.5+k3s1",
        1746000000,
        modes=k3s_tree.MODES,
    )


def test_raising_release_adds_a_dated_entry_reproducibly(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    p = _project(fresh_upstream, tmp_path / "proj")
    p.run("all", "--until", "render")
    first = _changelog(p)
    assert "- Original version for Edge Microvisor Toolkit.\n" in first
    hist = json.loads((p.root / "changelog.json").read_text())
    assert [e["evr"] for e in hist[PKG]] == ["0.14.1-1"]
    # release 2, dated from SOURCE_DATE_EPOCH (2025-06-17): a new entry leads, the old one stays
    p.write_release(packages=[PKG], release=2)
    env_run = _with_env(p, SOURCE_DATE_EPOCH="1750118400")
    env_run("render")
    cl = _changelog(p)
    assert cl.splitlines()[1].startswith("* Tue Jun 17 2025 Test Packager")
    assert cl.splitlines()[1].endswith("- 0.14.1-2")
    assert "- Bump release to 2." in cl and first.splitlines()[1] in cl
    _rpmspec_ok(p.root / SPEC)
    # recorded: a later render (another date in the environment, or none) gives the same bytes
    before = (p.root / SPEC).read_bytes()
    _with_env(p, SOURCE_DATE_EPOCH="1790000000")("render")
    p.run("render", "--check")
    assert (p.root / SPEC).read_bytes() == before
    # release 3 with --date older than the newest entry: dates never go backwards (rpm's rule)
    p.write_release(packages=[PKG], release=3)
    p.run("render", "--date", "2020-01-01")
    cl = _changelog(p)
    assert cl.splitlines()[1].startswith("* Tue Jun 17 2025") and "- 0.14.1-3" in cl
    _rpmspec_ok(p.root / SPEC)
    bad = p.run("render", "--date", "17/06/2025", check=False)
    assert bad.code == 2 and "YYYY-MM-DD" in bad.err


def _with_env(p: ProjectDir, **extra: str):  # type: ignore[no-untyped-def]
    import os
    import sys

    def run(*args: str) -> None:
        env = p.env() | extra
        proc = subprocess.run(
            [sys.executable, "-m", "emtk3s", "-C", str(p.root), *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=os.getcwd(),
        )
        assert proc.returncode == 0, proc.stderr

    return run


def test_bump_lists_every_component_change_and_refuses_a_downgrade(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    up = fresh_upstream
    p = _project(up, tmp_path / "proj")
    p.run("all", "--until", "render")
    _new_patch(up)
    res = p.run("--json", "bump", "--k3s", "v1.32.5+k3s1", "--date", "2025-06-18").json["result"]
    got = {c["component"]: (c["old"], c["new"]) for c in res["changes"]}
    assert got["k3s"] == ("v1.32.4+k3s1", "v1.32.5+k3s1")
    assert got["k3s-root"] == ("v0.14.1", "v0.14.2")
    assert got["runc"] == ("v1.2.5", "v1.2.6")
    cl = _changelog(p)
    assert cl.splitlines()[1].startswith("* Wed Jun 18 2025")
    assert "- runc v1.2.5 -> v1.2.6." in cl
    assert "- k3s-root v0.14.1 -> v0.14.2." in cl
    assert "- Original version for Edge Microvisor Toolkit.\n" in cl  # the first entry stays
    _rpmspec_ok(p.root / SPEC)
    human = p.run("bump", "--k3s", "v1.32.4+k3s1", check=False)
    assert human.code == 2 and "downgrade" in human.err and "--allow-downgrade" in human.err
    assert 'k3s = "v1.32.5+k3s1"' in (p.root / "release.toml").read_text()


def test_component_downgrade_inside_a_newer_k3s_needs_the_flag(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    up = fresh_upstream
    p = _project(up, tmp_path / "proj")
    p.run("all", "--until", "render")
    _new_patch(up, runc="v1.2.4")  # a newer K3s that pins an older runc
    before = (p.root / "release.toml").read_text(), (p.root / "emtk3s.lock").read_text()
    res = p.run("--json", "bump", "--k3s", "v1.32.5+k3s1", check=False)
    assert res.code == 2
    assert "runc v1.2.5 -> v1.2.4 (downgrade)" in res.json["error"]["message"]
    assert ((p.root / "release.toml").read_text(), (p.root / "emtk3s.lock").read_text()) == before
    ok = p.run("--json", "bump", "--k3s", "v1.32.5+k3s1", "--allow-downgrade").json["result"]
    assert ok["warnings"] == ["downgrade: runc v1.2.5 -> v1.2.4 (downgrade)"]
    assert "(downgrade)." in _changelog(p)


@pytest.mark.skipif(
    subprocess.run(["sh", "-c", "command -v licensecheck"], capture_output=True).returncode != 0,
    reason="licensecheck is not installed (./install.sh installs it)",
)
def test_license_verified_only_when_the_check_passed(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    up = fresh_upstream
    p = _project(up, tmp_path / "proj")
    p.run("all", "--until", "render")
    # the fixture's LICENSE names no license: nothing verified, the line is not written
    res = p.run("--json", "license-check", check=False)
    assert res.code == 2 and "no license identified" in res.json["error"]["message"]
    assert "License verified" not in _changelog(p)
    _new_patch(up)
    p.run("bump", "--k3s", "v1.32.5+k3s1", "--date", "2025-06-18")
    ok = p.run("--json", "license-check").json["result"]
    (found,) = ok["packages"][0]["found"].items()
    assert found[0] == "Apache-2.0" and found[1][0].endswith("LICENSE")
    cl = _changelog(p)
    lines = cl.splitlines()
    second = next(i for i, ln in enumerate(lines) if i > 1 and ln.startswith("* "))
    assert "- License verified." in lines[2:second]  # in the new entry, for this very EVR
    assert "- License verified." not in lines[second:]  # never claimed for the old one
    p.run("render", "--check")
    # a project template that claims MIT: the check names what differs, the line goes away
    tdir = p.root / "templates" / PKG
    tdir.mkdir(parents=True)
    from emtk3s import catalog

    src = catalog.load().packages[PKG].template_dir(None)
    for f in src.iterdir():
        text = f.read_text()
        text = text.replace("License:        Apache-2.0", "License:        MIT")
        text = text.replace('set license = "Apache-2.0"', 'set license = "MIT"')
        (tdir / f.name).write_text(text)
    p.run("render")
    assert "License:        MIT" in (p.root / SPEC).read_text()
    bad = p.run("--json", "license-check", check=False)
    assert bad.code == 2
    msg = bad.json["error"]["message"]
    assert "Apache-2.0 in " in msg and "LICENSE is not in License: MIT" in msg
    assert "License verified" not in _changelog(p)


def test_a_release_engineers_day(fresh_upstream: Upstream, tmp_path: Path) -> None:
    """Fresh project -> resolve -> bump to a new patch -> chain -> integrate into an EMT
    checkout that has older and newer copies in SPECS-EXTENDED -> raise release -> clean."""
    from tests.fixtures import emt_checkout

    up = fresh_upstream
    pkgs = [PKG, "fuse-overlayfs"]
    p = make_project(tmp_path / "proj", up)
    p.write_release(packages=pkgs)
    p.run("resolve")
    _new_patch(up)
    bump = p.run("--json", "bump", "--k3s", "v1.32.5+k3s1", "--date", "2025-06-18").json
    changes = {c["component"]: (c["old"], c["new"]) for c in bump["result"]["changes"]}
    assert changes["runc"] == ("v1.2.5", "v1.2.6") and changes["k3s-root"] == ("v0.14.1", "v0.14.2")
    chain = p.run("--json", "chain", "--nodeps").json["result"]
    assert {e["package"]: e["status"] for e in chain["packages"]} == dict.fromkeys(pkgs, "built")
    # the changelog of the bumped package lists every component change, old -> new
    cl = _changelog(p)
    for comp, (old, new) in changes.items():
        assert f"- {comp} {old} -> {new}." in cl, comp
    # EMT has fuse-overlayfs 1.14 (newer than our 1.11) and an older helpers copy
    emt = emt_checkout.make(tmp_path / "emt")
    older = emt / "SPECS-EXTENDED" / PKG
    older.mkdir()
    (older / f"{PKG}.spec").write_text(
        emt_checkout.SPEC.format(
            name=PKG, version="0.13.0", attribution=emt_checkout.INTEL, extra=""
        )
    )
    newer_spec = (emt / "SPECS-EXTENDED/fuse-overlayfs/fuse-overlayfs.spec").read_bytes()
    dry = p.run("emt", "integrate", "--emt-repo", str(emt), "--dry-run", check=False)
    assert "fuse-overlayfs" in dry.out + dry.err and "1.14" in dry.out + dry.err
    real = p.run("--json", "emt", "integrate", "--emt-repo", str(emt), check=False)
    # the real run refuses the downgrade (integrate's rules); the newer copy in
    # SPECS-EXTENDED is never touched
    assert real.code != 0, real.out
    assert "downgrade" in json.dumps(real.json).lower()
    assert (emt / "SPECS-EXTENDED/fuse-overlayfs/fuse-overlayfs.spec").read_bytes() == newer_spec
    # a rebuild: release 2 is a new dated entry; rpmspec -P and rpmlint are clean (validate)
    p.write_release(packages=pkgs, release=2)
    p.run("render", "--date", "2025-06-20")
    cl = _changelog(p)
    assert cl.splitlines()[1].startswith("* Fri Jun 20 2025") and "- Bump release to 2." in cl
    assert "- Original version for Edge Microvisor Toolkit." in cl
    _rpmspec_ok(p.root / SPEC)
    p.run("validate")
    p.run("render", "--check")
