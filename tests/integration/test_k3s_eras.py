"""Every K3s era from 1.26 to today's main (tests/data/k3s/<era>): resolve reads what the tag's own
files say, render writes a spec that `rpmspec -P` parses for x86_64 and aarch64, and the
rendered %prep/%build run against the era's own scripts (`rpmbuild --rebuild`) with a `go`
that answers as the real one does in vendor mode (tests/data/k3s/gostandin/bin/go).

Plus five defects, each a test that failed before the fix: a replace-only
module under -mod=vendor, tags up to 1.28 (no separate flannel plugin), [overrides] of VERSION_*
values, a script line resolve cannot read (never the 1.32 layout silently), and the pins of
verified downloads kept when the vendor step fails.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ProjectDir, make_project
from tests.fixtures import k3s_eras, k3s_tree
from tests.fixtures.upstream import Upstream

REPO = Path(__file__).resolve().parents[2]
MACROS = str(REPO / "emtk3s/data/emt.macros")
STANDIN_GO = "go1.26.2"  # what the stand-in says it is (EMTK3S_STANDIN_GOVERSION)
RPM_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


@pytest.fixture()
def standin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The go stand-in first on PATH (emtk3s vendor's `go mod vendor` and the build use it)."""
    monkeypatch.setenv("PATH", f"{k3s_tree.GO_STANDIN}:{os.environ['PATH']}")
    monkeypatch.setenv("GOPROXY", "off")
    monkeypatch.setenv("GOFLAGS", "")
    monkeypatch.setenv("EMTK3S_STANDIN_GOVERSION", STANDIN_GO)


def unpin_public_records(p: ProjectDir) -> None:
    """The fixture trees are not upstream's bytes: sources pinned by a public record (EMT's
    signatures for v1.32.4-era files) are left for fetch to pin, as for any other tag."""
    lock = p.lock
    for src in lock["packages"]["k3s"]["sources"]:
        if src.get("origin") == "public-record":
            src.update(sha256=None, size=None, origin="", pinned=False)
    (p.root / "emtk3s.lock").write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")


def _era_project(
    tmp: Path, up: Upstream, era: str, name: str = "p", **rel: Any
) -> tuple[ProjectDir, dict[str, Any]]:
    meta = k3s_eras.publish(up, era)
    p = make_project(tmp / f"{name}-{era}", up)
    p.write_release(k3s=meta["tag"], packages=["k3s"], **rel)
    return p, meta


def _k3s_root_dir(tmp: Path) -> Path:
    """The k3s-root-dist payload the spec unpacks (a stand-in tree)."""
    root_dir = tmp / "k3s-root"
    tree = tmp / "k3s-root-tree"
    (tree / "bin" / "aux").mkdir(parents=True, exist_ok=True)
    (tree / "bin" / "busybox").write_text("fixture busybox\n")
    (tree / "etc").mkdir(exist_ok=True)
    root_dir.mkdir(exist_ok=True)
    for goarch in ("amd64", "arm64"):
        subprocess.run(
            ["tar", "-cf", str(root_dir / f"k3s-root-{goarch}.tar"), "-C", str(tree), "bin", "etc"],
            check=True,
        )
    return root_dir


def walk(p: ProjectDir, tmp: Path, arch: str = "x86_64") -> subprocess.CompletedProcess[str]:
    """rpmbuild --rebuild of the project's k3s SRPM (%prep, %build, %install) with the stand-in
    go first on PATH; the log is returned for the checks."""
    srpm = next((p.root / "SRPMS").glob("k3s-*.src.rpm"))
    top = tmp / f"rpmbuild-{p.root.name}-{arch}"
    args = ["--target", arch] if arch != "x86_64" else []
    proc = subprocess.run(
        [
            "rpmbuild",
            "--rebuild",
            "--nodeps",
            *args,
            "--load",
            MACROS,
            "--define",
            f"_topdir {top}",
            "--define",
            f"k3s_root_dir {_k3s_root_dir(tmp)}",
            str(srpm),
        ],
        capture_output=True,
        text=True,
        env={
            "PATH": f"{k3s_tree.GO_STANDIN}:/usr/bin:/bin",
            "HOME": str(top),
            "GOPROXY": "off",
            "EMTK3S_STANDIN_GOVERSION": STANDIN_GO,
        },
    )
    (tmp / f"build-{p.root.name}-{arch}.log").write_text(proc.stdout + proc.stderr)
    return proc


# --- the five defects -------------------------------------------------------------------------


def test_replace_only_runc_builds_in_vendor_mode(
    fresh_upstream: Upstream, tmp_path: Path, standin: None
) -> None:
    """Defect 1: from 1.35 go.mod names runc only in a replace; version.sh's `go list -m` of it
    fails under GOFLAGS=-mod=vendor (and set -e), so %build died. The build now answers it from
    vendor/modules.txt, and the binary is stamped with the replace's version."""
    p, meta = _era_project(tmp_path, fresh_upstream, "1.35")
    p.run("all", "--until", "srpm")
    assert p.lock["components"]["k3s"]["facts"]["modules"]["runc"]["version"] == "v1.4.0"
    res = walk(p, tmp_path)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    assert "can't resolve module using the vendor directory" not in log
    assert "-X main.runcVersion=v1.4.0" in log


@pytest.mark.parametrize("era", ["1.26", "1.28"])
def test_tags_up_to_1_28_resolve_without_a_flannel_plugin(
    fresh_upstream: Upstream, tmp_path: Path, era: str
) -> None:
    """Defect 3: until 1.28 rancher/plugins carried plugins/meta/flannel; resolve stopped with
    "its files name no VERSION_FLANNEL_PLUGIN". The 2022-era version.sh reads go.mod with grep
    and awk."""
    p, meta = _era_project(tmp_path, fresh_upstream, era)
    p.run("resolve")
    facts = p.lock["components"]["k3s"]["facts"]
    exp = meta["expect"]
    assert "VERSION_FLANNEL_PLUGIN" not in facts["clones"]
    assert facts["modules"]["runc"]["version"] == exp["runc"]
    assert facts["modules"]["containerd"]["version"] == exp["containerd"]
    names = [s["name"] for s in p.lock["packages"]["k3s"]["sources"]]
    assert not [n for n in names if n.startswith("flannel-")], names
    assert f"rancher-plugins-{exp['cni']}.tar.gz" in names


def test_overrides_accept_version_values(fresh_upstream: Upstream, tmp_path: Path) -> None:
    """Defect 3: the error told users to use [overrides], which accepted only components.
    VERSION_* values are accepted (and validated), and win over what the tag's files say."""
    p, meta = _era_project(tmp_path, fresh_upstream, "1.29")
    p.write_release(k3s=meta["tag"], packages=["k3s"])
    rel = (p.root / "release.toml").read_text()
    (p.root / "release.toml").write_text(
        rel + '\n[overrides]\nVERSION_CNIPLUGINS = "v1.6.1-k3s1"\n'
    )
    fresh_upstream.commit_tag(
        "rancher/plugins", k3s_tree.plugins_files("v1.6.1-k3s1"), "v1.6.1-k3s1"
    )
    p.run("resolve")
    facts = p.lock["components"]["k3s"]["facts"]
    assert facts["VERSION_CNIPLUGINS"] == "v1.6.1-k3s1"
    assert facts["clones"]["VERSION_CNIPLUGINS"]["version"] == "v1.6.1-k3s1"
    names = [s["name"] for s in p.lock["packages"]["k3s"]["sources"]]
    assert "rancher-plugins-v1.6.1-k3s1.tar.gz" in names
    (p.root / "release.toml").write_text(rel + '\n[overrides]\nVERSION_CNIPLUGINS = "1.6 ; rm"\n')
    res = p.run("resolve", check=False)
    assert res.code == 2 and "VERSION_CNIPLUGINS" in res.err, res.err


def test_a_missing_value_suggests_the_override_that_works(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    """Defect 3: a value the tag's files do not name: the error names the VERSION_* and an
    [overrides] line release.toml accepts."""
    files = k3s_tree.era_files("1.29")
    files["scripts/version.sh"] = str(files["scripts/version.sh"]).replace(
        'VERSION_CNIPLUGINS="v1.6.0-k3s1"\n', ""
    )
    fresh_upstream.commit_tag(
        "k3s-io/k3s", files, "v1.29.15+k3s1", modes=k3s_tree.modes(files), clean=True
    )
    p = make_project(tmp_path / "p", fresh_upstream)
    p.write_release(k3s="v1.29.15+k3s1", packages=["k3s"])
    res = p.run("resolve", check=False)
    assert res.code == 2, res.err
    assert "VERSION_CNIPLUGINS" in res.err and '[overrides] VERSION_CNIPLUGINS = "' in res.err


def test_a_directory_from_a_sourced_file_is_followed(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    """Defect 4: main defines its directories in the sourced scripts/env-common.sh and clones
    with `git clone -b`. A tag that moves containerd's directory there resolves to that
    directory (not the 1.32 layout, silently)."""
    files = k3s_tree.era_files("main")
    files["scripts/env-common.sh"] = str(files["scripts/env-common.sh"]).replace(
        "CONTAINERD_DIR=build/src/github.com/containerd/containerd",
        "CONTAINERD_DIR=build/src/github.com/k3s-io/containerd",
    )
    meta = k3s_tree.era_meta("main")
    k3s_eras.publish(fresh_upstream, "main")
    fresh_upstream.commit_tag(
        "k3s-io/k3s", files, meta["tag"], modes=k3s_tree.modes(files), clean=True
    )
    p = make_project(tmp_path / "p", fresh_upstream)
    p.write_release(k3s=meta["tag"], packages=["k3s"])
    p.run("resolve")
    clones = p.lock["components"]["k3s"]["facts"]["clones"]
    assert clones["VERSION_CONTAINERD"]["dir"] == "build/src/github.com/k3s-io/containerd"
    assert clones["VERSION_CONTAINERD"]["from"] == "scripts/download"
    assert clones["VERSION_CNIPLUGINS"]["dir"] == "build/src/github.com/containernetworking/plugins"
    assert "default/1.32-layout" not in (p.root / "emtk3s.lock").read_text()


def test_a_clone_line_resolve_cannot_read_is_an_error_naming_file_and_line(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    """Defect 4: a clone whose directory comes from a command is not guessed: resolve stops,
    naming the file and line, and writes no lock."""
    files = k3s_tree.era_files("1.34")
    text = str(files["scripts/download"]).replace(
        "CONTAINERD_DIR=build/src/github.com/containerd/containerd",
        "CONTAINERD_DIR=$(cat build/containerd-dir)",
    )
    files["scripts/download"] = text
    line = next(
        i for i, s in enumerate(text.splitlines(), 1) if '--branch="${VERSION_CONTAINERD}"' in s
    )
    meta = k3s_tree.era_meta("1.34")
    k3s_eras.publish(fresh_upstream, "1.34")
    fresh_upstream.commit_tag(
        "k3s-io/k3s", files, meta["tag"], modes=k3s_tree.modes(files), clean=True
    )
    p = make_project(tmp_path / "p", fresh_upstream)
    p.write_release(k3s=meta["tag"], packages=["k3s"])
    res = p.run("resolve", check=False)
    assert res.code == 2, res.err
    assert f"scripts/download:{line}" in res.err, res.err
    assert not (p.root / "emtk3s.lock").exists()


def test_pins_of_verified_downloads_survive_a_failed_vendor_step(
    fresh_upstream: Upstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 5: without a new enough Go the vendor step fails; every download verified before
    keeps its pin in the lock (render then names only the vendor tarball)."""
    p, _meta = _era_project(tmp_path, fresh_upstream, "1.37")
    p.run("resolve")
    fake = tmp_path / "oldgo"
    fake.mkdir()
    (fake / "go").write_text('#!/bin/sh\n[ "$1" = env ] && echo go1.19.8 && exit 0\nexit 1\n')
    (fake / "go").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    res = p.run("fetch", check=False)
    assert res.code == 6, res.err
    assert "go1.19.8 is older than go 1.26.0" in res.err
    sources = p.lock["packages"]["k3s"]["sources"]
    unpinned = [s["name"] for s in sources if not s.get("sha256")]
    assert unpinned == ["k3s-vendor-1.37.0+k3s1.tar.gz"], unpinned
    assert len(sources) == 8  # k3s, vendor, runc, containerd, plugins, flannel, two charts


# --- every era: resolve, render (rpmspec -P, both arches), walk %prep/%build -----------------


@pytest.mark.parametrize("era", k3s_tree.ERAS)
def test_era_resolves_renders_and_builds(
    fresh_upstream: Upstream, tmp_path: Path, standin: None, era: str
) -> None:
    p, meta = _era_project(tmp_path, fresh_upstream, era)
    exp = meta["expect"]
    p.run("resolve")
    unpin_public_records(p)
    p.run("all", "--until", "srpm")  # fetch (vendor), render, validate, srpm
    facts = p.lock["components"]["k3s"]["facts"]
    assert facts["VERSION_ROOT"] == exp["k3s_root"]
    assert facts["modules"]["runc"]["version"] == exp["runc"]
    assert facts["modules"]["containerd"]["version"] == exp["containerd"]
    assert facts["modules"]["containerd"]["path"] == exp["containerd_module"]
    assert facts["VERSION_CNIPLUGINS"] == exp["cni"]
    assert facts.get("VERSION_FLANNEL_PLUGIN") == exp.get("flannel")
    assert facts["charts"] == {"traefik": exp["chart"], "traefik-crd": exp["chart"]}
    assert facts["golang"]["assigned"] is exp["golang_assigned"]
    assert facts["golang"]["stamped"] is exp["golang_stamped"]
    assert facts["go"] == exp["go"]
    assert "default/1.32-layout" not in (p.root / "emtk3s.lock").read_text()
    spec = p.root / "SPECS/k3s/k3s.spec"
    for arch in ("x86_64", "aarch64"):
        parsed = subprocess.run(
            ["rpmspec", "-P", "--target", arch, "--load", MACROS, str(spec)],
            capture_output=True,
            text=True,
        )
        assert parsed.returncode == 0, parsed.stderr
        assert f"export ARCH={RPM_ARCH[arch]}" in parsed.stdout
    for arch in ("x86_64", "aarch64"):
        res = walk(p, tmp_path, arch)
        log = res.stdout + res.stderr
        assert res.returncode == 0, f"{era} {arch}:\n" + log[-5000:]
        assert "git clone" not in log
        assert "a package build must never upload" not in log
        assert f"-X main.runcVersion={exp['runc']}" in log
        assert f"-X main.version={meta['tag']}" in log
        if exp["golang_stamped"]:  # the Go that compiles, never "go" (the offline curl)
            assert f"-X main.upstreamGolang={STANDIN_GO}" in log
        rpms = list(
            (tmp_path / f"rpmbuild-{p.root.name}-{arch}" / "RPMS" / arch).glob("k3s-1*.rpm")
        )
        assert len(rpms) == 1, log[-2000:]


def test_bump_from_the_default_release_to_a_1_37_tag_builds(
    fresh_upstream: Upstream, tmp_path: Path, standin: None
) -> None:
    """The CVE fast path across eras: bump from v1.32.4+k3s1 to a 1.37-shaped tag (k3s-root
    v0.15.2, containerd v2.3.4-k3s1, CNI v1.9.1-k3s1, runc only in a replace) re-resolves,
    fetches, vendors and renders; the specs pass render --check, and the SRPM builds (walked)."""
    p = make_project(tmp_path / "p", fresh_upstream)
    p.write_release(packages=["k3s"])  # the default release, v1.32.4+k3s1
    p.run("resolve")
    meta = k3s_eras.publish(fresh_upstream, "1.37")
    res = p.run("--json", "bump", "--k3s", meta["tag"]).json["result"]
    changes = {c["component"]: (c["old"], c["new"]) for c in res["changes"]}
    assert changes["k3s"] == ("v1.32.4+k3s1", "v1.37.0+k3s1")
    assert changes["k3s-root"] == ("v0.14.1", "v0.15.2")
    assert res["rendered"] == ["k3s"]
    spec = (p.root / "SPECS/k3s/k3s.spec").read_text()
    assert "Version:        1.37.0+k3s1" in spec and "%global k3s_root_version 0.15.2" in spec
    for name in ("runc-v1.4.2", "containerd-v2.3.4-k3s1", "rancher-plugins-v1.9.1-k3s1"):
        assert f"{name}.tar.gz" in spec
    cl = spec[spec.index("%changelog") :]
    assert "- k3s v1.32.4+k3s1 -> v1.37.0+k3s1." in cl
    p.run("render", "--check")
    p.run("all", "--until", "srpm")
    built = walk(p, tmp_path)
    log = built.stdout + built.stderr
    assert built.returncode == 0, log[-5000:]
    assert "-X main.runcVersion=v1.4.2" in log and f"-X main.upstreamGolang={STANDIN_GO}" in log
