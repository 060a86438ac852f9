"""EMT integration on a fixture EMT checkout; bump and check-updates against the fixture
upstream; root-diff; the compat CLI (issue 6)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Project, make_project
from tests.fixtures import emt_checkout, k3s_tree
from tests.fixtures.upstream import Upstream

REPO = Path(__file__).resolve().parents[2]


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _emtk3s(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emtk3s", "-C", str(REPO), *args], capture_output=True, text=True
    )


def test_integrate_dry_run_diff_then_real_run_then_noop(tmp_path: Path) -> None:
    emt = emt_checkout.make(tmp_path / "emt")
    before = _tree(emt)
    dry = _emtk3s("emt", "integrate", "--emt-repo", str(emt), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert _tree(emt) == before, "--dry-run wrote something"
    diff = dry.stdout
    assert "+++ b/SPECS/k3s-iptables-helpers/k3s-iptables-helpers.spec" in diff
    assert '+          "name": "k3s-iptables-helpers",' in diff
    assert (
        '+          "downloadUrl": "https://raw.githubusercontent.com/k3s-io/k3s-root/v0.14.1/iptables-detect/iptables-detect.sh"'
        in diff
    )
    assert (
        '+                "packagelists/k3s.json"' in diff
    )  # added to edge-image.json (4-space file)
    assert "edge-image-rt.json" not in diff  # not an edge image by default
    assert '+  "kubernetes-version": "v1.32.4+k3s1",' in diff
    real = _emtk3s("--json", "emt", "integrate", "--emt-repo", str(emt))
    assert real.returncode == 0, real.stderr
    changed = json.loads(real.stdout)["result"]["changed"]
    assert any(c.endswith("cgmanifest.json") for c in changed)
    cg = json.loads((emt / "cgmanifest.json").read_text())
    names = [r["component"]["other"]["name"] for r in cg["Registrations"]]
    assert names == sorted(names) and "fuse-overlayfs" in names and cg["Version"] == 1
    pl = json.loads((emt / "toolkit/imageconfigs/packagelists/k3s.json").read_text())
    assert (
        pl["packages"][:2] == ["k3s", "k3s-network-policy"]
        and "k3s-iptables-helpers" in pl["packages"]
    )
    assert pl["_comment"] == "K3s"
    img = json.loads((emt / "toolkit/imageconfigs/edge-image-dev.json").read_text())
    assert img["SystemConfigs"][0]["PackageLists"][-1] == "packagelists/k3s.json"
    assert (emt / "toolkit/imageconfigs/edge-image.json").read_text().startswith('{\n    "Disks"')
    after = _tree(emt)
    again = _emtk3s("--json", "emt", "integrate", "--emt-repo", str(emt))
    assert json.loads(again.stdout)["result"]["changed"] == []
    assert _tree(emt) == after, "a second run changed the checkout"


def test_integrate_refuses_a_non_emt_directory(tmp_path: Path) -> None:
    res = _emtk3s("emt", "integrate", "--emt-repo", str(tmp_path))
    assert res.returncode == 2 and "not an EMT checkout" in res.stderr


def test_root_diff_tables(tmp_path: Path) -> None:
    emt = emt_checkout.make(tmp_path / "emt")
    chroot = tmp_path / "chroot"
    for b in ("usr/bin/find", "usr/bin/xargs", "usr/sbin/ip", "usr/bin/busybox"):
        (chroot / b).parent.mkdir(parents=True, exist_ok=True)
        (chroot / b).write_text("")
    res = _emtk3s("--json", "root-diff", "--emt-repo", str(emt), "--chroot", str(chroot))
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)["result"]
    rows = {r["binary"]: r for r in rep["binaries"]}
    assert (
        rows["bin/busybox"]["k3s_root_version"] == "1.36.1"
        and rows["bin/busybox"]["action"] == "none (EMT same)"
    )
    assert rows["bin/aux/nft"]["action"] == "none (EMT newer)"  # EMT 1.0.9 vs buildroot 1.0.8
    assert rows["bin/fuse-overlayfs"]["spec"] == "SPECS-EXTENDED/fuse-overlayfs/fuse-overlayfs.spec"
    assert rows["bin/conntrack"]["action"] == "new RPM needed"
    assert (
        rows["bin/ip"]["in_chroot"] is True
        and rows["bin/ip"]["spec"] == "SPECS/iproute/iproute.spec"
    )
    c = rep["counts"]
    assert c["total"] == len(rows) == c["direct"] + c["links"]
    assert c["missing"] == sum(1 for r in rows.values() if not r["spec"] and not r["in_chroot"])
    md = _emtk3s("root-diff", "--emt-repo", str(emt)).stdout
    assert "| total | direct | links | overlapped | missing |" in md
    assert (
        "| bin/conntrack | conntrack-tools | direct | - | no | - | 1.4.7 | new RPM needed |" in md
    )


@pytest.fixture()
def bump_project(fresh_upstream: Upstream, tmp_path: Path) -> Project:
    p = make_project(tmp_path / "proj", fresh_upstream)
    (p.root / "release.toml").write_text(
        "# the release\n[release]\n"
        'k3s = "v1.32.4+k3s1"  # what EMT ships\n'
        'packages = ["k3s-iptables-helpers"]\n\n[changelog]\nauthor = "Rel Eng"\nemail = "releng@example.invalid"\n'
    )
    p.run("all", "--until", "render")
    return p


def test_check_updates_and_bump(bump_project: Project) -> None:
    p, up = bump_project, bump_project.upstream
    from tests.fixtures import k3s_root_tree

    root_files = k3s_root_tree.k3s_root_files()
    root_files["iptables-detect/README.md"] = "fixture v0.14.2\n"
    up.commit_tag("k3s-io/k3s-root", root_files, "v0.14.2", 1735000000)
    up.commit_tag("k3s-io/k3s", k3s_tree.k3s_files("v0.14.2"), "v1.32.5+k3s1", 1746000000)
    up.commit_tag("k3s-io/k3s", k3s_tree.k3s_files("v0.14.2"), "v1.33.0+k3s1", 1747000000)
    upd = p.run("--json", "check-updates").json["result"]
    assert upd == {"current": "v1.32.4+k3s1", "newer": ["v1.32.5+k3s1"], "latest": "v1.32.5+k3s1"}
    res = p.run("--json", "bump", "--k3s", "v1.32.5+k3s1").json["result"]
    assert {"component": "k3s", "old": "v1.32.4+k3s1", "new": "v1.32.5+k3s1"} in res["changes"]
    assert {"component": "k3s-root", "old": "v0.14.1", "new": "v0.14.2"} in res["changes"]
    text = (p.root / "release.toml").read_text()
    assert 'k3s = "v1.32.5+k3s1"  # what EMT ships' in text and text.startswith("# the release")
    spec = (p.root / "SPECS/k3s-iptables-helpers/k3s-iptables-helpers.spec").read_text()
    assert "Version:        0.14.2" in spec
    cl = spec[spec.index("%changelog") :]
    assert "Rel Eng <releng@example.invalid> - 0.14.2-1" in cl.splitlines()[1]
    assert "k3s v1.32.4+k3s1 -> v1.32.5+k3s1" in cl and "- 0.14.1-1" in cl
    # the tree is ready: render --check passes, a second all is a no-op render
    p.run("render", "--check")
    p.run("all", "--until", "srpm")


def test_bump_to_an_unknown_tag_leaves_the_tree_as_it_was(bump_project: Project) -> None:
    p = bump_project
    before = (p.root / "release.toml").read_text(), (p.root / "emtk3s.lock").read_text()
    res = p.run("bump", "--k3s", "v1.32.99+k3s1", check=False)
    assert res.code == 2 and "not found" in res.err
    assert (
        (p.root / "release.toml").read_text(),
        (p.root / "emtk3s.lock").read_text(),
    ) == before


def test_compat_cli_exit_codes_and_json(tmp_path: Path) -> None:
    res = _emtk3s(
        "--json", "compat", "check", "--template", "v1.32.6+k3s1", "--host", "emt:v1.30.4+k3s1"
    )
    assert res.returncode == 9
    doc = json.loads(res.stdout)
    assert doc["error"]["category"] == "conflict" and doc["result"]["http_status"] == 409
    assert "v1.32.6+k3s1" in doc["error"]["message"] and "v1.30.4+k3s1" in doc["error"]["message"]
    ok = _emtk3s("--json", "compat", "check", "--template", "v1.32.6+k3s1", "--host", "ubuntu")
    assert ok.returncode == 0 and json.loads(ok.stdout)["result"]["http_status"] == 200
    bad = _emtk3s("compat", "check", "--template", "latest", "--host", "ubuntu")
    assert bad.returncode == 2
    up = _emtk3s(
        "compat",
        "upgrade",
        "--from",
        "emt:v1.32.4+k3s1",
        "--to",
        "emt:v1.33.1+k3s1",
        "--policy",
        "same-minor",
    )
    assert up.returncode == 9 and "same-minor" in up.stderr
