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


def test_emts_newer_package_wins_and_downgrade_and_duplicate_are_refused(tmp_path: Path) -> None:
    emt = emt_checkout.make(tmp_path / "emt")
    extended = {k: v for k, v in _tree(emt).items() if k.startswith("SPECS-EXTENDED/")}
    dry = _emtk3s("--json", "emt", "integrate", "--emt-repo", str(emt), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    doc = json.loads(dry.stdout)
    dec = {d["package"]: d for d in doc["result"]["decisions"]}
    # EMT's newer SPECS-EXTENDED copies win by default: kept, named, never touched
    assert dec["fuse-overlayfs"]["action"] == "kept"
    assert dec["fuse-overlayfs"]["reason"].startswith(
        "EMT's SPECS-EXTENDED/fuse-overlayfs/fuse-overlayfs.spec 1.14 is newer"
    )
    assert dec["k3s-iptables-helpers"]["action"] == "new"
    human = _emtk3s("emt", "integrate", "--emt-repo", str(emt), "--dry-run")
    assert "decision: slirp4netns 1.2.0: kept" in human.stderr
    real = _emtk3s("emt", "integrate", "--emt-repo", str(emt))
    assert real.returncode == 0, real.stderr
    after = _tree(emt)
    assert {k: v for k, v in after.items() if k.startswith("SPECS-EXTENDED/")} == extended
    assert (
        not (emt / "SPECS/fuse-overlayfs").exists()
        and (emt / "SPECS/k3s-iptables-helpers").is_dir()
    )
    # only what an edge image needs at run time goes into the package list
    plist = json.loads((emt / "toolkit/imageconfigs/packagelists/k3s.json").read_text())
    assert "fuse-overlayfs" not in plist["packages"] and "slirp4netns" not in plist["packages"]
    assert "k3s-iptables-helpers" in plist["packages"]
    # k3s was not integrated: no kubernetes-version is claimed for the image
    record = json.loads((emt / "toolkit/imageconfigs/k3s-version.json").read_text())
    assert "kubernetes-version" not in record
    # choosing the older version without --replace is refused: the copy would be a duplicate
    down = _emtk3s("--json", "emt", "integrate", "--emt-repo", str(emt), "--allow-downgrade")
    assert down.returncode == 9, down.stderr
    dec = {d["package"]: d for d in json.loads(down.stdout)["result"]["decisions"]}
    assert (
        "downgrade of SPECS-EXTENDED/fuse-overlayfs/fuse-overlayfs.spec 1.14"
        in (dec["fuse-overlayfs"]["reason"])
    )
    assert _tree(emt) == after, "a refused integrate wrote something"
    # the same version elsewhere is a duplicate
    spec = emt / "SPECS-EXTENDED/slirp4netns/slirp4netns.spec"
    spec.write_text(spec.read_text().replace("1.3.1", "1.2.0"))
    dup = _emtk3s("--json", "emt", "integrate", "--emt-repo", str(emt), "-p", "slirp4netns")
    assert dup.returncode == 9
    dec = {d["package"]: d for d in json.loads(dup.stdout)["result"]["decisions"]}
    assert list(dec) == ["slirp4netns"]
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
    # the rule: edge images with the orchestrator's agents and an /opt partition carry K3s,
    # shown in the dry run
    doc = json.loads(real.stdout)["result"]
    assert doc["images"] == ["edge-image-dev.json", "edge-image-rt.json", "edge-image.json"]
    assert (
        "decision: image edge-image-minimal-os.json: no K3s (does not list "
        "packagelists/agents-packages.json: not an orchestrated host)" in dry.stderr
    )
    assert (
        "decision: image edge-image-nopt.json: no K3s (lists packagelists/agents-packages.json "
        "but mounts no /opt partition)" in dry.stderr
    )
    for name, carries in (("edge-image-rt.json", True), ("edge-image-minimal-os.json", False)):
        conf = json.loads((emt / "toolkit/imageconfigs" / name).read_text())
        has = "packagelists/k3s.json" in conf["SystemConfigs"][0]["PackageLists"]
        assert has == carries, name
    # cgmanifest: every registration of a spec still in the checkout is kept, unchanged
    cg = json.loads((emt / "cgmanifest.json").read_text())
    ours = {"fuse-overlayfs", "slirp4netns", "k3s-iptables-helpers"}
    assert [r for r in cg["Registrations"] if r["component"]["other"]["name"] not in ours] == [
        r for r in cg_before["Registrations"] if r["component"]["other"]["name"] not in ours
    ]
    assert ("fuse-overlayfs", "1.11") in _names(cg) and ("fuse-overlayfs", "1.14") not in _names(cg)
    assert (emt / "cgmanifest.json").read_text() == json.dumps(cg, indent=2) + "\n"
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
    # k3s itself is not integrated here (its vendor tarball is PENDING): no version is claimed
    assert "kubernetes-version" not in rec
    assert "SPECS/slirp4netns/slirp4netns.spec" in rec["integrated"]
    after = _tree(emt)
    again = _emtk3s("--json", "emt", "integrate", "--emt-repo", str(emt))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["result"]["changed"] == []
    assert _tree(emt) == after, "a second run changed the checkout"


def test_pending_k3s_is_marked_and_a_subset_lands(tmp_path: Path) -> None:
    """The full default release previews (exit 0) with k3s's PENDING vendor tarball marked; a
    real run names the ready packages to choose with -p, which then land alone."""
    emt = emt_checkout.make(tmp_path / "emt")
    proj = tmp_path / "proj"
    shutil.copytree(_PROJECT[0], proj)
    shutil.copytree(REPO / "SPECS" / "k3s", proj / "SPECS" / "k3s")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "emtk3s", "-C", str(proj), *args],
            capture_output=True,
            text=True,
        )

    before = _tree(emt)
    dry = run("--json", "emt", "integrate", "--emt-repo", str(emt), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    dec = {d["package"]: d for d in json.loads(dry.stdout)["result"]["decisions"]}
    assert dec["k3s"]["action"] == "pending" and "k3s-vendor-" in dec["k3s"]["reason"]
    assert "PENDING" in dec["k3s"]["reason"]
    assert {d["action"] for d in dec.values()} == {"pending", "kept", "new"}
    assert "decision: k3s 1.32.4+k3s1: pending" in dry.stderr
    real = run("emt", "integrate", "--emt-repo", str(emt))
    assert real.returncode != 0 and "-p k3s-iptables-helpers" in real.stderr, real.stderr
    assert _tree(emt) == before
    sub = run(
        "emt",
        "integrate",
        "--emt-repo",
        str(emt),
        "-p",
        "fuse-overlayfs",
        "-p",
        "k3s-iptables-helpers",
    )
    assert sub.returncode == 0, sub.stderr
    assert (emt / "SPECS/k3s-iptables-helpers").is_dir()
    after = _tree(emt)
    assert after["SPECS/k3s/k3s.spec"] == before["SPECS/k3s/k3s.spec"]  # EMT's k3s untouched
    assert not (emt / "SPECS/fuse-overlayfs").exists()  # EMT's newer copy kept
    bad = run("emt", "integrate", "--emt-repo", str(emt), "-p", "nope")
    assert bad.returncode == 2 and "-p nope: not a rendered package" in bad.stderr


def test_a_build_requirement_nobody_provides_is_refused(tmp_path: Path) -> None:
    """k3s BuildRequires k3s-root-dist: without k3s-root in the checkout or the set, refused;
    with a provider in the checkout, it goes in, continuing the changelog of the spec it
    replaces."""
    from emtk3s import catalog as catalogmod
    from emtk3s.emt import plan as integrate
    from emtk3s.model.lock import Lock
    from emtk3s.workflows.integrate import apply

    catalog = catalogmod.load()

    emt = emt_checkout.make(tmp_path / "emt")
    specs = tmp_path / "SPECS"
    (specs / "k3s").mkdir(parents=True)
    ours = (REPO / "SPECS/k3s/k3s.spec").read_text()
    (specs / "k3s" / "k3s.spec").write_text(ours)
    doc = json.loads((REPO / "emtk3s.lock").read_text())
    del doc["packages"]["k3s"]  # a spec of no pending source: only its BuildRequires count
    lock = Lock.from_json(json.dumps(doc), catalog.mirrors)
    p = integrate.plan(emt, specs, lock, catalog, [])
    (d,) = p.decisions
    assert d.action == "refused" and d.reason.startswith("BuildRequires k3s-root-dist: no spec")
    assert p.change.dirs == {} and p.change.files == {}
    with pytest.raises(Exception, match="integrate refused: k3s"):
        apply(p)
    # a provider in the checkout: k3s goes in, EMT's own entries kept below ours
    prov = emt / "SPECS/k3s-root/k3s-root.spec"
    prov.parent.mkdir()
    prov.write_text(
        emt_checkout.SPEC.format(
            name="k3s-root",
            version="0.14.1",
            attribution="x",
            extra="\n%package dist\nSummary: d\n",
        )
    )
    p = integrate.plan(emt, specs, lock, catalog, [])
    (d,) = p.decisions
    assert d.action == "update" and "replaces EMT's own SPECS/k3s/k3s.spec" in d.notes
    spec = p.change.dirs["SPECS/k3s"]["k3s.spec"].decode()
    pinned = ours.replace("golang >= %{go_min}", "golang = 1.23.7")
    assert spec.startswith(pinned.rstrip("\n"))
    assert spec.endswith(
        "* Tue Jun 17 2025 Fixture <fixture@example.invalid> - 1.32.4-1\n- "
        + emt_checkout.INTEL
        + "\n"
    )
    assert integrate.continue_changelog(spec.encode(), spec.encode()) == spec.encode()
    # Go as EMT pins it: of the checkout's golang specs (1.23.7, and 1.24.1 as EMT 3.0 has
    # both), the one of go.mod's Go line, exactly
    assert "BuildRequires:  golang = 1.23.7\n" in spec and "golang >=" not in spec
    assert any(n.startswith("golang pinned to 1.23.7 (SPECS/golang/golang.spec") for n in d.notes)
    newer = emt / "SPECS/golang/golang-1.24.spec"
    newer.write_text(
        emt_checkout.SPEC.format(name="golang", version="1.24.1", attribution="x", extra="")
    )
    p = integrate.plan(emt, specs, lock, catalog, [])
    assert "BuildRequires:  golang = 1.23.7\n" in p.change.dirs["SPECS/k3s"]["k3s.spec"].decode()
    # a checkout whose Go is older than go.mod's minimum: refused, naming the minimum
    for f in (emt / "SPECS/golang").glob("*.spec"):
        f.write_text(f.read_text().replace("1.23.7", "1.22.9").replace("1.24.1", "1.22.12"))
    (d,) = integrate.plan(emt, specs, lock, catalog, []).decisions
    assert d.action == "refused" and d.reason.startswith("BuildRequires golang >= 1.23.6")


def test_cgmanifest_is_written_as_emts_update_cgmanifest_writes_it(tmp_path: Path) -> None:
    """EMT's toolkit/scripts/update_cgmanifest.py sorts by name.lower(), then rpm's version
    order, and writes json.dump(indent=2) and a newline: the same file comes out here."""
    emt = emt_checkout.make(tmp_path / "emt")
    cg_path = emt / "cgmanifest.json"
    cg = json.loads(cg_path.read_text())

    def reg(name: str, version: str) -> dict[str, Any]:
        url = f"https://example.invalid/{name}-{version}.tar.gz"
        other = {"name": name, "version": version, "downloadUrl": url}
        return {"component": {"type": "other", "other": other}}

    # in EMT's order already: upper case sorts with lower case; 1.9 before 1.10 (rpm order)
    extra = [reg("Kea", "2.6.1"), reg("kmod", "1.9"), reg("kmod", "1.10"), reg("L-smash", "2")]
    cg["Registrations"] = sorted(
        cg["Registrations"] + extra,
        key=lambda r: (r["component"]["other"]["name"].lower(), r["component"]["other"]["version"]),
    )
    ks = [i for i, r in enumerate(cg["Registrations"]) if r["component"]["other"]["name"] == "kmod"]
    regs = cg["Registrations"]
    regs[ks[0]], regs[ks[1]] = reg("kmod", "1.9"), reg("kmod", "1.10")
    cg_path.write_text(json.dumps(cg, indent=2) + "\n")
    res = _emtk3s("emt", "integrate", "--emt-repo", str(emt), "-p", "k3s-iptables-helpers")
    assert res.returncode == 0, res.stderr
    text = cg_path.read_text()
    after = json.loads(text)
    assert text == json.dumps(after, indent=2) + "\n"
    names = _names(after)
    assert [n.lower() for n, _ in names] == sorted(n.lower() for n, _ in names)
    assert names.index(("kmod", "1.9")) + 1 == names.index(("kmod", "1.10"))
    assert names.index(("k3s-iptables-helpers", "0.14.1")) < names.index(("Kea", "2.6.1"))
    # only our registration was added: the rest of the file is byte for byte as it was
    before = json.dumps(cg, indent=2).splitlines()
    added = [
        line
        for line in difflib.unified_diff(before, text.splitlines(), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert all(line.startswith("+") for line in added) and any(
        '"name": "k3s-iptables-helpers"' in line for line in added
    )


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
    spec.write_text(spec.read_text().replace("\nSummary:", "\n#nospeccleaner\nSummary:", 1))
    res = p.run("validate", check=False)
    assert res.code == 5 and "rule emt-linter-changelog" in res.err, res.err


#: EMT's public record for its k3s 1.32.4 (SPECS/k3s/k3s.signatures.json of
#: open-edge-platform/edge-microvisor-toolkit, commit 1a8cbbaf): names and sha256 only
EMT_K3S_SIGNATURES = {
    "k3s-v1.32.4.tar.gz": "69ae56c0edb0390f9e98b7b93955f4e066165bf9800b9ce41ed489e8410f9ce6",
    "k3s-vendor-v1.32.4.tar.gz": "23957cf399b52515d3bd06b2974a016d9fbfb587c737d2dc9a7f194834083c7e",
    "runc-v1.2.5.tar.gz": "1ae11980477b789732915dfd7ba4246f5babe5ff76a31021d36365007d9713b0",
}


def test_pin_the_vendor_tarball_from_emts_record_and_reuse_emts_names(tmp_path: Path) -> None:
    """k3s's PENDING vendor tarball is pinned from EMT's signatures.json (origin marked); the
    release then previews with k3s ready, and where EMT holds the same bytes under another
    basename (the vendor tarball, the k3s source tarball) the spec takes EMT's name."""
    emt = emt_checkout.make(tmp_path / "emt")
    (emt / "SPECS/k3s/k3s.signatures.json").write_text(
        json.dumps({"Signatures": EMT_K3S_SIGNATURES}, indent=4)
    )
    prov = emt / "SPECS/k3s-root/k3s-root.spec"  # k3s's BuildRequires k3s-root-dist
    prov.parent.mkdir()
    prov.write_text(
        emt_checkout.SPEC.format(
            name="k3s-root",
            version="0.14.1",
            attribution="x",
            extra="\n%package dist\nSummary: d\n",
        )
    )
    proj = tmp_path / "proj"
    shutil.copytree(_PROJECT[0], proj)
    shutil.copytree(REPO / "SPECS" / "k3s", proj / "SPECS" / "k3s")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "emtk3s", "-C", str(proj), *args],
            capture_output=True,
            text=True,
        )

    res = run("--json", "emt", "pin", "--emt-repo", str(emt), "-p", "k3s")
    assert res.returncode == 0, res.stderr
    lock = json.loads((proj / "emtk3s.lock").read_text())
    (vendor,) = [s for s in lock["packages"]["k3s"]["sources"] if "vendor" in s["name"]]
    assert vendor["sha256"] == EMT_K3S_SIGNATURES["k3s-vendor-v1.32.4.tar.gz"]
    assert vendor["origin"] == "emt-record by k3s-vendor-v1.32.4.tar.gz"
    assert run("render").returncode == 0
    dry = run("--json", "emt", "integrate", "--emt-repo", str(emt), "--dry-run", "-p", "k3s")
    assert dry.returncode == 0, dry.stderr
    doc = json.loads(dry.stdout)["result"]
    (dec,) = doc["decisions"]
    assert dec["action"] == "update", dec
    assert any("EMT's k3s-vendor-v1.32.4.tar.gz (same sha256)" in n for n in dec["notes"])
    assert any("EMT's k3s-v1.32.4.tar.gz (same sha256)" in n for n in dec["notes"])
    assert "+Source1:        k3s-vendor-v1.32.4.tar.gz\n" in doc["diff"]
    assert "#/k3s-v1.32.4.tar.gz\n" in doc["diff"]
    assert '"runc-v1.2.5.tar.gz"' in doc["diff"]  # the same name already: kept
    # nothing to pin a second time; a checkout of another version pins nothing
    again = run("--json", "emt", "pin", "--emt-repo", str(emt), "-p", "k3s")
    assert json.loads(again.stdout)["result"]["pinned"] == []
    spec = emt / "SPECS/k3s/k3s.spec"
    spec.write_text(spec.read_text().replace("1.32.4", "1.31.2"))
    shutil.copy(REPO / "emtk3s.lock", proj / "emtk3s.lock")
    other = run("--json", "emt", "pin", "--emt-repo", str(emt))
    res_doc = json.loads(other.stdout)["result"]
    assert res_doc["pinned"] == [] and "EMT's SPECS/k3s is 1.31.2" in res_doc["not_found"][0]


def test_a_source_pinned_from_emts_record_is_fetched_from_its_server_and_checked(
    tmp_path: Path,
) -> None:
    """Fetched from EMT's source server (a loopback server here) by EMT's basename: the sha256
    is checked by the download, then the layout of a Go vendor tarball."""
    import functools
    import http.server
    import io
    import tarfile
    import threading

    from emtk3s.infra.cache import Cache
    from emtk3s.infra.errors import IntegrityError
    from emtk3s.model import release as release_toml
    from emtk3s.model.lock import Source
    from emtk3s.stages.fetch import _from_emt_server

    def tarball(members: dict[str, bytes]) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    served = tmp_path / "served"
    served.mkdir()
    good = tarball({"vendor/modules.txt": b"# example.invalid/m v1.0.0\n", "vendor/x/a.go": b"x"})
    bad = tarball({"k3s-1.32.4/vendor/modules.txt": b"#\n"})
    (served / "k3s-vendor-v1.32.4.tar.gz").write_bytes(good)
    (served / "k3s-vendor-v1.32.4-bad.tar.gz").write_bytes(bad)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "release.toml").write_text('[release]\nk3s = "v1.32.4+k3s1"\n')
        from emtk3s import catalog as catalogmod

        rel = release_toml.load(
            tmp_path / "release.toml",
            catalogmod.load(),
            environ={"EMTK3S_MIRROR_EMT_SOURCES": f"http://127.0.0.1:{server.server_port}"},
        )
        cache = Cache(tmp_path / "cache")
        import hashlib

        def source(data: bytes, name: str) -> Source:
            return Source(
                "k3s-vendor-1.32.4+k3s1.tar.gz",
                "generated",
                "generated:go-mod-vendor:x",
                hashlib.sha256(data).hexdigest(),
                None,
                f"emt-record by {name}",
            )

        src = source(good, "k3s-vendor-v1.32.4.tar.gz")
        _from_emt_server(rel, cache, src, "k3s/vendor", "k3s-vendor-v1.32.4.tar.gz")
        assert cache.has(src.sha256 or "", src.name)
        wrong = source(bad, "k3s-vendor-v1.32.4-bad.tar.gz")
        with pytest.raises(IntegrityError, match="not vendor/ alone"):
            _from_emt_server(rel, cache, wrong, "k3s/vendor", "k3s-vendor-v1.32.4-bad.tar.gz")
        assert not cache.has(wrong.sha256 or "", wrong.name)
        # other bytes than EMT's record names: the download's sha256 check refuses them
        liar = source(good + b"x", "k3s-vendor-v1.32.4.tar.gz")
        with pytest.raises(IntegrityError):
            _from_emt_server(rel, cache, liar, "k3s/vendor", "k3s-vendor-v1.32.4.tar.gz")
    finally:
        server.shutdown()


#: the build requirements the fixture checkout's SPECS do not provide (EMT's SPECS do): k3s-root's
#: build tools, binutils (helm-set-status), bash and jq (the klipper-helm image's userland)
K3S_ROOT_TOOLS = (
    "bc", "bison", "bzip2", "cmake", "cpio", "diffutils", "file", "flex", "gawk", "gzip",
    "patch", "perl", "rsync", "tar", "unzip", "which", "xz",
)  # fmt: skip
ADDON_TOOLS = ("binutils", "bash", "jq")


def _add_specs(emt: Path, specs: tuple[tuple[str, str], ...]) -> None:
    for name, version in specs:
        spec = emt / "SPECS" / name / f"{name}-{version}.spec"
        spec.parent.mkdir(parents=True, exist_ok=True)
        spec.write_text(
            emt_checkout.SPEC.format(
                name=name, version=version, attribution=emt_checkout.INTEL, extra=""
            )
        )


def test_the_default_release_puts_k3s_and_the_addon_images_in_the_package_list(
    tmp_path: Path,
) -> None:
    """The default release with every source pinned (the golden lock: real tags and versions,
    the sources it leaves unpinned given stand-in hashes here) into a checkout that provides
    every build requirement: k3s and k3s-addon-images go in packagelists/k3s.json, the addon
    payloads (build inputs of k3s-addon-images) are integrated as specs but stay off the image,
    and each is registered in cgmanifest.json."""
    from emtk3s import catalog

    defaults = {p.name for p in catalog.load().select([])}
    payloads = {n for n in defaults if n.startswith("k3s-addon-") and n != "k3s-addon-images"}
    assert {"k3s", "k3s-addon-images"} <= defaults and payloads, defaults
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy(REPO / "tests/golden/release.toml", proj / "release.toml")
    lock = json.loads((REPO / "tests/golden/lock.json").read_text())
    assert set(lock["packages"]) == defaults
    for p in lock["packages"].values():
        for s in p["sources"]:
            if s["sha256"] is None:
                s.update(sha256=hashlib.sha256(s["name"].encode()).hexdigest(), size=1)
                s.update(origin="fetch", pinned=True)
    (proj / "emtk3s.lock").write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    emt = emt_checkout.make(tmp_path / "emt")
    _add_specs(emt, (("golang", "1.24.1"), *((x, "1.0") for x in K3S_ROOT_TOOLS + ADDON_TOOLS)))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "EMTK3S_CACHE": str(tmp_path / "cache")}
        return subprocess.run(
            [sys.executable, "-m", "emtk3s", "-C", str(proj), *args],
            capture_output=True,
            text=True,
            env=env,
        )

    res = run("render")
    assert res.returncode == 0, res.stderr
    res = run("--json", "emt", "integrate", "--emt-repo", str(emt), "--replace")
    assert res.returncode == 0, res.stderr
    dec = {d["package"]: d["action"] for d in json.loads(res.stdout)["result"]["decisions"]}
    assert dec["k3s"] == "update" and dec["k3s-addon-images"] == "new", dec
    plist = json.loads((emt / "toolkit/imageconfigs/packagelists/k3s.json").read_text())
    assert "k3s" in plist["packages"] and "k3s-addon-images" in plist["packages"]
    assert not payloads & set(plist["packages"]), plist
    for pkg in payloads | {"k3s-addon-images"}:
        assert (emt / "SPECS" / pkg / f"{pkg}.spec").is_file(), pkg
    cg = json.loads((emt / "cgmanifest.json").read_text())
    assert {"k3s", "k3s-addon-images", *payloads} <= {n for n, _ in _names(cg)}
    # the check can fail: in a checkout without k3s-root's build tools, k3s-root is refused
    # and with it the images package (k3s-root-dist's busybox is its userland)
    again = emt_checkout.make(tmp_path / "emt2")
    _add_specs(again, (("golang", "1.24.1"), *((x, "1.0") for x in ADDON_TOOLS)))
    res = run("--json", "emt", "integrate", "--emt-repo", str(again), "--replace")
    assert res.returncode != 0
    dec = {d["package"]: d for d in json.loads(res.stdout)["result"]["decisions"]}
    assert dec["k3s-addon-images"]["action"] == "refused"
    assert "k3s-root-dist" in dec["k3s-addon-images"]["reason"]
