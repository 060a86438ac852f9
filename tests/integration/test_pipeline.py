"""The whole chain on the smallest package, against the fixture upstream."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ProjectDir, make_project
from tests.fixtures import k3s_release
from tests.fixtures.upstream import Upstream

PKG = "k3s-iptables-helpers"


def _only_helpers(p: ProjectDir) -> None:
    p.write_release(packages=[PKG])


def _tree(*roots: Path) -> dict[str, tuple[int, int, int]]:
    """Every file and directory under ``roots``: inode, size, mtime_ns (a directory's mtime
    moves when an entry is created, renamed or removed in it)."""
    out = {}
    for root in roots:
        for p in [root, *root.rglob("*")]:
            st = p.lstat()
            out[str(p)] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return out


def test_all_yields_specs_srpms_rpms_and_second_run_is_a_noop(project: ProjectDir) -> None:
    _only_helpers(project)
    first = project.run("--json", "all").json["result"]
    st = first["stages"]
    assert st["resolve"]["network"] is True
    assert st["resolve"]["components"]["k3s-root"]["tag"] == k3s_release.K3S_ROOT_TAG
    spec_dir = project.root / "SPECS" / PKG
    assert sorted(p.name for p in spec_dir.iterdir()) == [f"{PKG}.signatures.json", f"{PKG}.spec"]
    srpm = Path(st["srpm"]["srpms"][0]["srpm"])
    assert srpm.name == f"{PKG}-0.14.1-1.emt3.src.rpm"
    rpm_path = Path(st["build"]["builds"][0]["rpms"][0])
    assert rpm_path.name == f"{PKG}-0.14.1-1.emt3.noarch.rpm"
    assert (project.root / "RPMS" / "repodata" / "repomd.xml").is_file()

    # the signatures file pins exactly what the lock pins
    sigs = json.loads((spec_dir / f"{PKG}.signatures.json").read_text())["Signatures"]
    lock_srcs = {s["name"]: s["sha256"] for s in project.lock["packages"][PKG]["sources"]}
    assert sigs == lock_srcs

    before = sum(project.upstream.requests.values())
    stamp = (
        (project.root / "SRPMS").stat().st_mtime_ns,
        srpm.stat().st_mtime_ns,
        rpm_path.stat().st_mtime_ns,
    )
    tree = _tree(project.root, project.cache)
    second = project.run("--json", "all").json["result"]["stages"]
    after = _tree(project.root, project.cache)
    changed = sorted(k for k in tree.keys() | after.keys() if tree.get(k) != after.get(k))
    assert changed == [], f"a no-op all wrote: {changed}"
    assert sum(project.upstream.requests.values()) == before, "a no-op run contacted the server"
    assert second["resolve"]["network"] is False
    assert second["fetch"]["downloaded"] == 0
    assert second["render"]["written"] == []
    assert second["srpm"]["srpms"][0]["skipped"] is True
    assert second["build"]["builds"][0]["skipped"] is True
    assert (srpm.stat().st_mtime_ns, rpm_path.stat().st_mtime_ns) == stamp[1:]
    assert not (project.root / ".emtk3s" / "logs" / "build-x.log").exists()


def test_srpm_is_byte_identical_across_runs_and_projects(
    project: ProjectDir, tmp_path: Path
) -> None:
    _only_helpers(project)
    project.run("all", "--until", "srpm")
    srpm = next((project.root / "SRPMS").glob("*.src.rpm"))
    first = hashlib.sha256(srpm.read_bytes()).hexdigest()
    project.run("srpm", "--force")
    assert hashlib.sha256(srpm.read_bytes()).hexdigest() == first
    other = make_project(tmp_path / "other", project.upstream)
    _only_helpers(other)
    other.run("all", "--until", "srpm")
    srpm2 = next((other.root / "SRPMS").glob("*.src.rpm"))
    assert hashlib.sha256(srpm2.read_bytes()).hexdigest() == first
    info = project.run("--json", "srpm").json["result"]["srpms"][0]
    assert info["nevr"] == f"{PKG}-0.14.1-1.emt3" and info["sha256"] == first


def test_rpm_contents_requires_and_rpmlint(project: ProjectDir) -> None:
    _only_helpers(project)
    project.run("all")
    rpm_file = next((project.root / "RPMS" / "noarch").glob("*.rpm"))
    files = subprocess.run(
        ["rpm", "-qpl", str(rpm_file)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert files == [
        "/usr/lib/tmpfiles.d/k3s-iptables-helpers.conf",
        "/usr/libexec/k3s-iptables-helpers",
        "/usr/libexec/k3s-iptables-helpers/iptables-detect.sh",
        "/usr/libexec/k3s-iptables-helpers/xtables-set-mode.sh",
        "/usr/share/doc/k3s-iptables-helpers",
        "/usr/share/doc/k3s-iptables-helpers/README.md",
        "/usr/share/licenses/k3s-iptables-helpers",
        "/usr/share/licenses/k3s-iptables-helpers/LICENSE",
    ]
    # a read-only image: nothing under /etc, /var or /opt, and no scriptlets at all
    assert not [f for f in files if f.startswith(("/etc", "/var", "/opt"))]
    scripts = subprocess.run(
        ["rpm", "-qp", "--scripts", str(rpm_file)], capture_output=True, text=True, check=True
    )
    assert scripts.stdout.strip() == ""
    reqs = subprocess.run(
        ["rpm", "-qpR", str(rpm_file)], capture_output=True, text=True, check=True
    ).stdout
    for dep in ("coreutils", "iptables", "which"):
        assert dep in reqs.split()
    srpm = next((project.root / "SRPMS").glob("*.src.rpm"))
    lint = subprocess.run(
        [
            "rpmlint",
            "--strict",
            "-c",
            str(Path("emtk3s/data/rpmlint.toml").resolve()),
            str(rpm_file),
            str(srpm),
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "0 errors, 0 warnings" in lint.stdout


def test_tampered_upstream_file_is_refused_and_never_cached(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    p = make_project(tmp_path / "proj", fresh_upstream)
    _only_helpers(p)
    p.run("resolve")
    path = "/raw/k3s-io/k3s-root/v0.14.1/iptables-detect/xtables-set-mode.sh"
    good = p.lock["packages"][PKG]["sources"][1]
    assert good["name"] == "k3s-iptables-helpers-0.14.1-xtables-set-mode.sh"
    body = subprocess.run(
        ["git", "cat-file", "blob", "v0.14.1:iptables-detect/xtables-set-mode.sh"],
        cwd=fresh_upstream.repo_dir("k3s-io/k3s-root"),
        capture_output=True,
        check=True,
    ).stdout
    evil = bytearray(body)
    evil[-2] ^= 0x01  # one byte changed
    fresh_upstream.overrides[path] = bytes(evil)
    res = p.run("fetch", check=False)
    assert res.code == 3, res.err
    err = res.err.strip().splitlines()[-1]
    assert "xtables-set-mode.sh" in err and good["sha256"] in err
    assert hashlib.sha256(bytes(evil)).hexdigest() in err
    assert "Traceback" not in res.err
    blobs = list((p.cache / "blobs").rglob("*")) if (p.cache / "blobs").exists() else []
    cached = {b.name for b in blobs if b.is_file()}
    assert hashlib.sha256(bytes(evil)).hexdigest() not in cached
    assert list((p.cache / "quarantine").iterdir()), "the bad bytes are kept aside"
    # later runs do not use the bad bytes: with the mirror fixed, fetch succeeds
    del fresh_upstream.overrides[path]
    p.run("fetch")
    assert good["sha256"] in {b.name for b in (p.cache / "blobs").rglob("*") if b.is_file()}


def test_render_check_detects_drift_and_names_the_file(project: ProjectDir) -> None:
    _only_helpers(project)
    project.run("all", "--until", "render")
    project.run("render", "--check")
    spec = project.root / "SPECS" / PKG / f"{PKG}.spec"
    spec.write_text(
        spec.read_text().replace("Release:        1%{?dist}", "Release:        2%{?dist}")
    )
    res = project.run("render", "--check", check=False)
    assert res.code == 7
    assert "-Release:        2%{?dist}" in res.err and "+Release:        1%{?dist}" in res.err
    assert res.err.strip().splitlines()[-1].startswith("emtk3s render: error: SPECS/ drifted")
    project.run("render")
    project.run("render", "--check")


def test_offline_all_goes_as_far_as_it_can(project: ProjectDir) -> None:
    _only_helpers(project)
    project.run("resolve")
    out = project.run("--json", "all", "--offline", check=False)
    # nothing built for lack of network is not plain success for CI: its own exit code (11)
    assert out.code == 11, out.err
    doc = out.json
    assert doc["error"]["category"] == "needs-network"
    res = doc["result"]
    assert res["stopped"] == "needs network" and res["needs_network"] == ["k3s-iptables-helpers"]
    assert res["stages"]["fetch"]["missing"]
    assert "not in the cache" in res["detail"]
    assert res["stages"]["srpm"]["srpms"] == []
    assert res["finished"] == ["resolve", "fetch", "render", "license", "validate", "srpm", "build"]


def test_json_error_shape_and_exit_codes(project: ProjectDir) -> None:
    (project.root / "release.toml").write_text('[release]\nk3s = "v1.32.4+k3s1\\n%post"\n')
    res = project.run("--json", "resolve", check=False)
    assert res.code == 2
    doc = res.json
    assert doc["ok"] is False and doc["error"]["category"] == "input"
    assert "K3s tag" in doc["error"]["message"]
    assert len(res.err.strip().splitlines()) == 1 and "Traceback" not in res.err


@pytest.mark.parametrize(
    "text, needle",
    [
        ('[release]\nk3s = "v1.32"\n', "release.k3s = 'v1.32' is not a K3s tag"),
        (
            '[release]\nk3s = "v1.32.4+k3s1"\narches = ["ppc64le"]\n',
            "release.arches[0] = 'ppc64le' is not",
        ),
        (
            '[release]\nk3s = "v1.32.4+k3s1"\n[mirrors]\nnope = "https://mirror.example"\n',
            "unknown mirror",
        ),
        (
            '[release]\nk3s = "v1.32.4+k3s1"\n[overrides]\nk3s-root = "-v0.14.1"\n',
            "overrides.k3s-root = '-v0.14.1' is not a tag",
        ),
        ("[release\n", "not valid TOML"),
    ],
)
def test_bad_release_files_give_one_line_errors(
    project: ProjectDir, text: str, needle: str
) -> None:
    (project.root / "release.toml").write_text(text)
    res = project.run("resolve", check=False)
    assert res.code == 2, res.err
    assert needle in res.err
    assert len(res.err.strip().splitlines()) == 1
    assert not (project.root / "emtk3s.lock").exists()


def test_plain_http_mirror_refused_unless_allowed_by_name(project: ProjectDir) -> None:
    res = project.run("--mirror", "github=http://mirror.example", "resolve", check=False)
    assert res.code == 2 and "plain http" in res.err and "allow_http" in res.err
    res = project.run("--mirror", "raw=ext::sh -c touch% /tmp/pwned", "resolve", check=False)
    assert res.code == 2 and "not allowed in a URL" in res.err


def test_moved_upstream_tag_is_an_error_naming_both_commits(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    from tests.fixtures import k3s_root_tree

    p = make_project(tmp_path / "proj", fresh_upstream)
    _only_helpers(p)
    p.run("resolve")
    old = p.lock["components"]["k3s-root"]["commit"]
    files = k3s_root_tree.k3s_root_files()
    files["iptables-detect/README.md"] = "moved!\n"
    new = fresh_upstream.commit_tag("k3s-io/k3s-root", files, k3s_release.K3S_ROOT_TAG)
    assert new != old
    res = p.run("resolve", "--refresh", check=False)
    assert res.code == 3, res.err
    assert old in res.err and new in res.err and "moved" in res.err
    assert p.lock["components"]["k3s-root"]["commit"] == old, "the lock must not change"
    p.run("resolve", "--refresh", "--repin")
    assert p.lock["components"]["k3s-root"]["commit"] == new
