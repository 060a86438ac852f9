"""EMT integration on a fixture EMT checkout; bump and check-updates against the fixture
upstream; root-diff; the compat CLI."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ProjectDir, make_project
from tests.fixtures import emt_checkout, k3s_tree
from tests.fixtures.upstream import Upstream

REPO = Path(__file__).resolve().parents[2]


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


#: the packages of the committed SPECS/ that integrate takes as they are (k3s's committed spec
#: names a PENDING vendor tarball, which integrate refuses by design)
INTEGRATED = ("fuse-overlayfs", "k3s-iptables-helpers", "slirp4netns")


@pytest.fixture(scope="module")
def repo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this repository's project files (release.toml, lock, committed SPECS/)."""
    root = tmp_path_factory.mktemp("repo-project")
    for name in ("release.toml", "emtk3s.lock", "changelog.json"):
        if (REPO / name).is_file():
            shutil.copy(REPO / name, root / name)
    for pkg in INTEGRATED:
        shutil.copytree(REPO / "SPECS" / pkg, root / "SPECS" / pkg)
    return root


_PROJECT: list[Path] = []


@pytest.fixture(autouse=True)
def _use_repo_project(repo_project: Path) -> None:
    _PROJECT[:] = [repo_project]


def _emtk3s(*args: str) -> subprocess.CompletedProcess[str]:
    root = _PROJECT[0] if _PROJECT else REPO
    return subprocess.run(
        [sys.executable, "-m", "emtk3s", "-C", str(root), *args], capture_output=True, text=True
    )


def _names(cg: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (r["component"]["other"]["name"], r["component"]["other"]["version"])
        for r in cg["Registrations"]
    ]


def test_integrate_refuses_downgrade_and_duplicate_and_dry_run_shows_it(tmp_path: Path) -> None:
    emt = emt_checkout.make(tmp_path / "emt")
    before = _tree(emt)
    dry = _emtk3s("--json", "emt", "integrate", "--emt-repo", str(emt), "--dry-run")
    assert dry.returncode == 9, dry.stderr
    doc = json.loads(dry.stdout)
    dec = {d["package"]: d for d in doc["result"]["decisions"]}
    assert dec["fuse-overlayfs"]["action"] == "refused"
    assert (
        "downgrade of SPECS-EXTENDED/fuse-overlayfs/fuse-overlayfs.spec 1.14"
        in (dec["fuse-overlayfs"]["reason"])
    )
    assert dec["k3s-iptables-helpers"]["action"] == "new"
    human = _emtk3s("emt", "integrate", "--emt-repo", str(emt), "--dry-run")
    assert "decision: slirp4netns 1.2.0: refused" in human.stderr
    real = _emtk3s("emt", "integrate", "--emt-repo", str(emt))
    assert real.returncode == 9 and "--replace" in real.stderr
    assert _tree(emt) == before, "a refused integrate wrote something"
    # the same version elsewhere is a duplicate
    spec = emt / "SPECS-EXTENDED/slirp4netns/slirp4netns.spec"
    spec.write_text(spec.read_text().replace("1.3.1", "1.2.0"))
    dup = _emtk3s("--json", "emt", "integrate", "--emt-repo", str(emt), "--allow-downgrade")
    assert dup.returncode == 9
    dec = {d["package"]: d for d in json.loads(dup.stdout)["result"]["decisions"]}
    assert dec["slirp4netns"]["reason"].startswith(
        "duplicate of SPECS-EXTENDED/slirp4netns/slirp4netns.spec 1.2.0"
    )


def test_integrate_replace_then_noop_keeps_formatting_and_registrations(tmp_path: Path) -> None:
    emt = emt_checkout.make(tmp_path / "emt")
    cg_before = json.loads((emt / "cgmanifest.json").read_text())
    image_before = (emt / "toolkit/imageconfigs/edge-image.json").read_text()
    dry = _emtk3s(
        "emt", "integrate", "--emt-repo", str(emt), "--dry-run", "--replace", "--allow-downgrade"
    )
    assert dry.returncode == 0, dry.stderr
    assert "decision: fuse-overlayfs 1.11: replace" in dry.stderr
    assert "--- a/SPECS-EXTENDED/fuse-overlayfs/fuse-overlayfs.spec" in dry.stdout
    real = _emtk3s(
        "--json", "emt", "integrate", "--emt-repo", str(emt), "--replace", "--allow-downgrade"
    )
    assert real.returncode == 0, real.stderr
    assert not (emt / "SPECS-EXTENDED/fuse-overlayfs").exists()
    # the image config: one line added, one comma; tabs and `"MountOptions" :` kept
    image = (emt / "toolkit/imageconfigs/edge-image.json").read_text()
    diff = [
        line
        for line in difflib.unified_diff(image_before.splitlines(), image.splitlines(), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert diff == [
        '-                "packagelists/ssh-server.json"',
        '+                "packagelists/ssh-server.json",',
        '+                "packagelists/k3s.json"',
    ]
    assert '"MountOptions" : "umask=0077"' in image and '\t\t\t"Path"' in image
    # cgmanifest: every registration of a spec still in the checkout is kept, unchanged
    cg = json.loads((emt / "cgmanifest.json").read_text())
    ours = {"fuse-overlayfs", "slirp4netns", "k3s-iptables-helpers"}
    assert [r for r in cg["Registrations"] if r["component"]["other"]["name"] not in ours] == [
        r for r in cg_before["Registrations"] if r["component"]["other"]["name"] not in ours
    ]
    assert ("fuse-overlayfs", "1.11") in _names(cg) and ("fuse-overlayfs", "1.14") not in _names(cg)
    assert _names(cg) == sorted(_names(cg))
    # license map regenerated by the checkout's own license_map.py: the removed copies' origin
    # no longer lists them
    lic = json.loads((emt / "LICENSES-AND-NOTICES/SPECS/data/licenses.json").read_text())
    assert lic["licenses"]["Fedora"]["specs"] == []
    assert "| Fedora |" in (emt / "LICENSES-AND-NOTICES/SPECS/LICENSES-MAP.md").read_text()
    pl = json.loads((emt / "toolkit/imageconfigs/packagelists/k3s.json").read_text())
    assert pl["packages"][:2] == ["k3s", "k3s-network-policy"] and pl["_comment"] == "K3s"
    assert "k3s-iptables-helpers" in pl["packages"]
    rec = json.loads((emt / "toolkit/imageconfigs/k3s-version.json").read_text())
    assert (
        rec["kubernetes-version"] == "v1.32.4+k3s1"
        and "SPECS/slirp4netns/slirp4netns.spec" in (rec["integrated"])
    )
    after = _tree(emt)
    again = _emtk3s("--json", "emt", "integrate", "--emt-repo", str(emt))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["result"]["changed"] == []
    assert _tree(emt) == after, "a second run changed the checkout"


def test_a_hand_edit_of_an_integrated_spec_is_refused(tmp_path: Path) -> None:
    emt = emt_checkout.make(tmp_path / "emt")
    shutil.rmtree(emt / "SPECS-EXTENDED")
    assert _emtk3s("emt", "integrate", "--emt-repo", str(emt)).returncode == 0
    spec = emt / "SPECS/slirp4netns/slirp4netns.spec"
    spec.write_text(spec.read_text().replace("Release:        1%", "Release:        7%"))
    res = _emtk3s("emt", "integrate", "--emt-repo", str(emt))
    assert res.returncode == 9
    assert "SPECS/slirp4netns/slirp4netns.spec was edited by hand" in res.stderr
    assert "7%" in spec.read_text()
    assert _emtk3s("emt", "integrate", "--emt-repo", str(emt), "--replace").returncode == 0
    assert "7%" not in spec.read_text()


def test_a_source_basename_another_spec_uses_is_refused(tmp_path: Path) -> None:
    emt = emt_checkout.make(tmp_path / "emt")
    shutil.rmtree(emt / "SPECS-EXTENDED")
    sig = emt / "SPECS/busybox/busybox.signatures.json"
    sig.write_text(json.dumps({"Signatures": {"slirp4netns-1.2.0.tar.gz": "1" * 64}}))
    res = _emtk3s("emt", "integrate", "--emt-repo", str(emt))
    assert res.returncode == 9
    assert "rule emt-unique-source-basename: slirp4netns: Source slirp4netns-1.2.0.tar.gz" in (
        res.stderr
    )


def test_integrate_writes_only_inside_the_checkout_and_names_bad_files(tmp_path: Path) -> None:
    emt = emt_checkout.make(tmp_path / "emt")
    shutil.rmtree(emt / "SPECS-EXTENDED")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.json").write_text('{"SystemConfigs": [{"PackageLists": []}]}\n')
    res = _emtk3s(
        "emt", "integrate", "--emt-repo", str(emt), "--image-config", "../../../outside/x.json"
    )
    assert res.returncode == 2 and "not a path inside the EMT checkout" in res.stderr
    # a symlinked toolkit/imageconfigs pointing outside
    ic = emt / "toolkit/imageconfigs"
    shutil.move(str(ic), str(outside / "imageconfigs"))
    ic.symlink_to(outside / "imageconfigs")
    before = _tree(outside)
    res = _emtk3s("emt", "integrate", "--emt-repo", str(emt))
    assert res.returncode == 2 and "a symlink inside the EMT checkout" in res.stderr
    assert _tree(outside) == before
    ic.unlink()
    shutil.move(str(outside / "imageconfigs"), str(ic))
    # wrongly typed JSON: exit 2 naming the file, never an internal error
    cg = emt / "cgmanifest.json"
    good = cg.read_text()
    cg.write_text('{"Registrations": {"a": 1}}')
    res = _emtk3s("emt", "integrate", "--emt-repo", str(emt))
    assert res.returncode == 2 and f"{cg}: unexpected JSON shape" in res.stderr
    cg.write_text(good)
    pl = ic / "packagelists/k3s.json"
    pl.write_text('{"packages": "k3s k3s-iptables-helpers-old"}')
    res = _emtk3s("emt", "integrate", "--emt-repo", str(emt))
    assert res.returncode == 2 and f"{pl}: unexpected JSON shape" in res.stderr
    assert pl.read_text() == '{"packages": "k3s k3s-iptables-helpers-old"}'
    assert "Traceback" not in res.stderr


def test_integrate_is_one_unit_recovered_after_sigkill(tmp_path: Path) -> None:
    clean = emt_checkout.make(tmp_path / "clean")
    emt = emt_checkout.make(tmp_path / "emt")
    for d in (clean, emt):
        shutil.rmtree(d / "SPECS-EXTENDED")
    assert _emtk3s("emt", "integrate", "--emt-repo", str(clean)).returncode == 0
    # what an older version left behind
    (emt / "toolkit/imageconfigs/.edge-image.json.abc123.tmp").write_text("half")
    env = {**os.environ, "EMTK3S_TEST_KILL_AFTER_RENAMES": "3"}
    killed = subprocess.run(
        [
            sys.executable,
            "-m",
            "emtk3s",
            "-C",
            str(_PROJECT[0]),
            "emt",
            "integrate",
            "--emt-repo",
            str(emt),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert killed.returncode == -9, killed.stderr
    assert (emt / ".emtk3s-integrate/journal.json").is_file()
    res = _emtk3s("--json", "emt", "integrate", "--emt-repo", str(emt))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["result"]["recovered"] == "rolled forward"
    assert _tree(emt) == _tree(clean)
    assert not list(emt.rglob("*.tmp")) and not (emt / ".emtk3s-integrate").exists()


def test_integrate_check_runs_what_the_checkout_has(tmp_path: Path) -> None:
    emt = emt_checkout.make(tmp_path / "emt")
    shutil.rmtree(emt / "SPECS-EXTENDED")
    res = _emtk3s("--json", "emt", "integrate", "--emt-repo", str(emt), "--check")
    doc = json.loads(res.stdout)
    checks = {(r["check"], r["spec"]): r for r in doc["result"]["checks"]["results"]}
    # the fixture has license_map.py (a stand-in) and none of the other scripts
    assert checks[("spec-guidelines", "")]["status"] == "skipped"
    assert "toolkit/scripts/check_spec_guidelines.py" in checks[("spec-guidelines", "")]["output"]
    assert checks[("cgmanifest", "")]["status"] == "skipped"
    assert checks[("license-map", "")]["status"] in ("passed", "failed")
    assert (res.returncode == 0) == (checks[("license-map", "")]["status"] == "passed")


def test_root_diff_refuses_a_path_that_is_not_a_checkout(tmp_path: Path) -> None:
    res = _emtk3s("root-diff", "--emt-repo", str(tmp_path))
    assert res.returncode == 2 and "not an EMT checkout" in res.stderr


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
    # k3s-root's iptables-detect.sh is what emtk3s's own k3s-iptables-helpers ships
    assert (
        rows["bin/aux/iptables-detect.sh"]["action"] == "shipped by emtk3s (k3s-iptables-helpers)"
    )
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
def bump_project(fresh_upstream: Upstream, tmp_path: Path) -> ProjectDir:
    p = make_project(tmp_path / "proj", fresh_upstream)
    (p.root / "release.toml").write_text(
        "# the release\n[release]\n"
        'k3s = "v1.32.4+k3s1"  # what EMT ships\n'
        'packages = ["k3s-iptables-helpers"]\n\n[changelog]\nauthor = "Rel Eng"\nemail = "releng@example.invalid"\n'
    )
    p.run("all", "--until", "render")
    return p


def test_check_updates_and_bump(bump_project: ProjectDir) -> None:
    p, up = bump_project, bump_project.upstream
    from tests.fixtures import k3s_root_tree

    root_files = k3s_root_tree.k3s_root_files()
    root_files["iptables-detect/README.md"] = "fixture v0.14.2\n"
    up.commit_tag("k3s-io/k3s-root", root_files, "v0.14.2", 1735000000)
    up.commit_tag("k3s-io/k3s", k3s_tree.k3s_files("v0.14.2"), "v1.32.5+k3s1", 1746000000)
    up.commit_tag("k3s-io/k3s", k3s_tree.k3s_files("v0.14.2"), "v1.33.0+k3s1", 1747000000)
    res = p.run("--json", "check-updates", check=False)
    assert res.code == 100, "an update exists: dnf check-update's exit code"
    upd = res.json["result"]
    assert upd == {"current": "v1.32.4+k3s1", "newer": ["v1.32.5+k3s1"], "latest": "v1.32.5+k3s1"}
    assert p.run("check-updates", check=False).code == 100
    res = p.run("--json", "bump", "--k3s", "v1.32.5+k3s1").json["result"]
    changes = {c["component"]: (c["old"], c["new"], c["downgrade"]) for c in res["changes"]}
    assert changes["k3s"] == ("v1.32.4+k3s1", "v1.32.5+k3s1", False)
    assert changes["k3s-root"] == ("v0.14.1", "v0.14.2", False)
    text = (p.root / "release.toml").read_text()
    assert 'k3s = "v1.32.5+k3s1"  # what EMT ships' in text and text.startswith("# the release")
    spec = (p.root / "SPECS/k3s-iptables-helpers/k3s-iptables-helpers.spec").read_text()
    assert "Version:        0.14.2" in spec
    cl = spec[spec.index("%changelog") :]
    assert "Rel Eng <releng@example.invalid> - 0.14.2-1" in cl.splitlines()[1]
    assert "- k3s v1.32.4+k3s1 -> v1.32.5+k3s1." in cl and "- 0.14.1-1" in cl
    # the tree is ready: render --check passes, a second all is a no-op render
    p.run("render", "--check")
    up_to_date = p.run("check-updates")  # exit 0: nothing newer of the same minor
    assert "v1.32.5+k3s1: up to date" in up_to_date.out
    p.run("all", "--until", "srpm")


def test_bump_to_an_unknown_tag_leaves_the_tree_as_it_was(bump_project: ProjectDir) -> None:
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


def test_emt_sources_lists_every_upload_and_copies_them(
    project: ProjectDir, tmp_path: Path
) -> None:
    p = project
    p.write_release(packages=["k3s-iptables-helpers", "k3s-root"])
    p.run("all", "--until", "render")
    files = p.run("--json", "emt", "sources").json["result"]["files"]
    names = {f["name"]: f for f in files}
    # k3s-root's buildroot downloads, one upload each
    dl = "k3s-root-0.14.1-busybox-1.36.1.tar.bz2"
    assert dl in names and names[dl]["cached"]
    assert "k3s-iptables-helpers-0.14.1-LICENSE" in names and "LICENSE" not in names
    sigs = json.loads((p.root / "SPECS/k3s-root/k3s-root.signatures.json").read_text())[
        "Signatures"
    ]
    assert {n: names[n]["sha256"] for n in sigs} == sigs
    upload = tmp_path / "upload"
    p.run("emt", "sources", "--copy-to", str(upload))
    assert sorted(x.name for x in upload.iterdir()) == sorted([*names, "SHA256SUMS"])
    check = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=upload, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # validate knows EMT's rules: a spec that the linter would change fails naming the rule
    p.run("validate")
    spec = p.root / "SPECS/k3s-iptables-helpers/k3s-iptables-helpers.spec"
    spec.write_text(spec.read_text().replace("#nospeccleaner\n", ""))
    res = p.run("validate", check=False)
    assert res.code == 5 and "rule emt-linter-changelog" in res.err, res.err
