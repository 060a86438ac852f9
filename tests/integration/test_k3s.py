"""K3s from its tag: every component version read from the tag's own files, the Go vendor tarball
made deterministically with Debian's go and a file:// GOPROXY, and an offline build with it."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.conftest import Project, make_project
from tests.fixtures import gomodules, k3s_tree
from tests.fixtures.upstream import Upstream

REPO = Path(__file__).resolve().parents[2]

EMT_SHIPS = {  # reference.md: what EMT's hand-written spec for v1.32.4+k3s1 carries
    "VERSION_ROOT": "v0.14.1",
    "runc": "v1.2.5",
    "containerd": "v2.0.4-k3s2",
    "VERSION_CNIPLUGINS": "v1.6.0-k3s1",
    "VERSION_FLANNEL_PLUGIN": "v1.6.0-flannel1",
    "traefik": "34.2.1+up34.2.0",
    "traefik-crd": "34.2.1+up34.2.0",
}
NEW = {
    "runc": "v1.2.6",
    "containerd": "v2.0.5-k3s1",
    "cni": "v1.6.1-k3s1",
    "flannel": "v1.6.1-flannel1",
    "chart": "34.2.2+up34.2.1",
}


def test_show_k3s_lists_the_versions_emt_ships(project: Project) -> None:
    project.write_release(packages=["k3s"])
    project.run("resolve")
    doc = project.run("--json", "show", "k3s").json["result"]
    facts = doc["component"]["facts"]
    got = {
        "VERSION_ROOT": facts["VERSION_ROOT"],
        "runc": facts["modules"]["runc"]["version"],
        "containerd": facts["modules"]["containerd"]["version"],
        "VERSION_CNIPLUGINS": facts["VERSION_CNIPLUGINS"],
        "VERSION_FLANNEL_PLUGIN": facts["VERSION_FLANNEL_PLUGIN"],
        "traefik": facts["charts"]["traefik"],
        "traefik-crd": facts["charts"]["traefik-crd"],
    }
    assert got == EMT_SHIPS
    assert (
        facts["modules"]["containerd"]["module"] == "github.com/k3s-io/containerd/v2"
    )  # the replace wins
    assert facts["go"] == "1.19"
    sources = {s["name"]: s for s in doc["package"]["sources"]}
    # every downloaded source is pinned by EMT's public signatures; the vendor tarball is ours
    for name, s in sources.items():
        if name.startswith("k3s-vendor-"):
            assert s["mirror"] == "generated" and not s["pinned"]
        else:
            assert s["origin"] == "public-record", name
    assert "k3s-root-amd64.tar" not in str(sources) and "airgap" not in str(sources)


def test_unparsable_go_mod_names_file_and_line(fresh_upstream: Upstream, tmp_path: Path) -> None:
    files = k3s_tree.k3s_files()
    files["go.mod"] = str(files["go.mod"]).replace(
        "\tgithub.com/flannel-io/flannel v0.26.4\n", "\tflannel ???\n"
    )
    fresh_upstream.commit_tag("k3s-io/k3s", files, "v1.32.9+k3s1")
    p = make_project(tmp_path / "p", fresh_upstream)
    p.write_release(k3s="v1.32.9+k3s1", packages=["k3s"])
    res = p.run("resolve", check=False)
    assert res.code == 2 and "v1.32.9+k3s1:go.mod:" in res.err and "cannot parse require" in res.err


@pytest.fixture()
def newer(fresh_upstream: Upstream, tmp_path: Path) -> tuple[Upstream, str]:
    """A K3s tag whose components are not in any public record (so fixture bytes get pinned)."""
    up = fresh_upstream
    up.commit_tag(
        "k3s-io/k3s",
        k3s_tree.k3s_files(
            runc=NEW["runc"],
            containerd=NEW["containerd"],
            cni=NEW["cni"],
            flannel=NEW["flannel"],
            chart=NEW["chart"],
        ),
        "v1.32.5+k3s1",
        modes=k3s_tree.MODES,
    )
    for repo, tag in (
        ("opencontainers/runc", NEW["runc"]),
        ("k3s-io/containerd", NEW["containerd"]),
        ("rancher/plugins", NEW["cni"]),
        ("flannel-io/cni-plugin", NEW["flannel"]),
    ):
        up.commit_tag(repo, {"README.md": f"fixture {tag}\n"}, tag)
    for chart in ("traefik-crd", "traefik"):
        up.files[f"/k3s-charts/assets/{chart}/{chart}-{NEW['chart']}.tgz"] = chart.encode()
    mods = dict(gomodules.MODULES)
    mods["github.com/k3s-io/containerd/v2"] = (
        NEW["containerd"],
        "containerd",
        "containerd fixture",
    )
    mods["github.com/opencontainers/runc"] = (NEW["runc"], "runc", "runc fixture")
    proxy = gomodules.write_proxy(tmp_path / "goproxy", mods)
    return up, proxy


def _project(tmp: Path, up: Upstream, proxy: str, name: str) -> Project:
    p = make_project(tmp / name, up)
    p.write_release(k3s="v1.32.5+k3s1", packages=["k3s"])
    return p


def _go_env(proxy: str) -> dict[str, str]:
    return {"GOPROXY": proxy, "GOSUMDB": "off", "GONOSUMDB": "*", "GOFLAGS": ""}


def test_vendor_tarball_is_deterministic_and_builds_offline(
    newer: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    up, proxy = newer
    for k, v in _go_env(proxy).items():
        monkeypatch.setenv(k, v)
    a = _project(tmp_path, up, proxy, "a")
    a.run("resolve")
    res = a.run("--json", "fetch").json["result"]
    assert res["generated"] == ["k3s/k3s-vendor-1.32.5+k3s1.tar.gz"]
    src = next(
        s for s in a.lock["packages"]["k3s"]["sources"] if s["name"].startswith("k3s-vendor-")
    )
    assert src["origin"] == "generated" and src["pinned"]
    b = _project(tmp_path, up, proxy, "b")  # another project, another cache: the same bytes
    b.run("resolve")
    b.run("fetch")
    src_b = next(
        s for s in b.lock["packages"]["k3s"]["sources"] if s["name"].startswith("k3s-vendor-")
    )
    assert src_b["sha256"] == src["sha256"]
    vendor = next((a.cache / "blobs").rglob(src["sha256"]))
    with tarfile.open(vendor) as tf:
        names = tf.getnames()
        assert "vendor/modules.txt" in names
        assert "vendor/github.com/opencontainers/runc/runc.go" in names
        assert {m.uid for m in tf.getmembers()} == {0}
    # offline build with the vendor tree: no proxy, no network
    k3s_src = next(
        s for s in a.lock["packages"]["k3s"]["sources"] if s["name"] == "k3s-1.32.5+k3s1.tar.gz"
    )
    work = tmp_path / "build"
    work.mkdir()
    k3s_blob = next((a.cache / "blobs").rglob(k3s_src["sha256"]))
    subprocess.run(["tar", "-xzf", str(k3s_blob), "-C", str(work)], check=True)
    top = next(work.iterdir())
    subprocess.run(["tar", "-xzf", str(vendor), "-C", str(top)], check=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(work),
        "GOPROXY": "off",
        "GOFLAGS": "-mod=vendor",
        "GOTOOLCHAIN": "local",
        "GOCACHE": str(work / "gocache"),
        "CGO_ENABLED": "0",
    }
    subprocess.run(
        ["go", "build", "-ldflags", "-X main.version=v1.32.5+k3s1", "-o", "k3s", "."],
        cwd=top,
        env=env,
        check=True,
        capture_output=True,
    )
    out = subprocess.run([str(top / "k3s")], capture_output=True, text=True, check=True).stdout
    assert out.split() == [
        "k3s",
        "v1.32.5+k3s1",
        "containerd",
        "fixture",
        "runc",
        "fixture",
        "flannel",
        "fixture",
        "kubernetes",
        "fixture",
    ]


def test_tampered_module_or_wrong_vendor_hash_stops_the_build(
    newer: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    up, proxy = newer
    for k, v in _go_env(proxy).items():
        monkeypatch.setenv(k, v)
    a = _project(tmp_path, up, proxy, "a")
    a.run("resolve")
    a.run("fetch")
    lock = json.loads((a.root / "emtk3s.lock").read_text())
    # 1. the proxy serves other bytes for the same module version: go.sum (upstream's) refuses
    mods = dict(gomodules.MODULES)
    mods["github.com/opencontainers/runc"] = (NEW["runc"], "runc", "tampered")
    monkeypatch.setenv("GOPROXY", gomodules.write_proxy(tmp_path / "goproxy2", mods))
    c = _project(tmp_path, up, proxy, "c")
    c.run("resolve")
    res = c.run("fetch", check=False)
    assert res.code == 5, res.err
    assert "github.com/opencontainers/runc@v1.2.6: checksum mismatch" in res.err
    assert not any(
        s["name"].startswith("k3s-vendor") and s["pinned"]
        for s in c.lock["packages"]["k3s"]["sources"]
    )
    # 2. a lock edited to another vendor hash: the regenerated tarball is refused
    monkeypatch.setenv("GOPROXY", proxy)
    src = next(s for s in lock["packages"]["k3s"]["sources"] if s["name"].startswith("k3s-vendor-"))
    src["sha256"] = "1" * 64
    d = _project(tmp_path, up, proxy, "d")
    (d.root / "emtk3s.lock").write_text(json.dumps(lock, indent=2))
    (d.root / "release.toml").write_text((a.root / "release.toml").read_text())
    res = d.run("fetch", "--locked", check=False)
    assert res.code == 3, res.err
    assert (
        "k3s-vendor-1.32.5+k3s1.tar.gz" in res.err
        and "differs from the one the lock pins" in res.err
    )
    assert "1" * 64 in res.err


def test_k3s_rpm_builds_from_the_fixture_with_our_k3s_root(
    newer: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rendered spec really builds: vendor tree, pinned component sources, the k3s-root tree
    from (a stand-in for) the k3s-root-dist package, no upload, the read-only install layout."""
    up, proxy = newer
    for k, v in _go_env(proxy).items():
        monkeypatch.setenv(k, v)
    p = _project(tmp_path, up, proxy, "p")
    p.run("all", "--until", "srpm")
    spec = (p.root / "SPECS/k3s/k3s.spec").read_text()
    assert "%global k3s_root_version 0.14.1" in spec and "%global go_version 1.19" in spec
    assert "BuildRequires:  k3s-root-dist = %{k3s_root_version}" in spec
    for prebuilt in ("releases/download", "k3s-root-amd64.tar#", "k3s-airgap-images-amd64.tar.zst"):
        assert prebuilt not in spec
    macros = str(REPO / "emtk3s/data/emt.macros")
    for arch in ("x86_64", "aarch64"):
        parsed = subprocess.run(
            [
                "rpmspec",
                "-P",
                "--target",
                arch,
                "--load",
                macros,
                str(p.root / "SPECS/k3s/k3s.spec"),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        goarch = "amd64" if arch == "x86_64" else "arm64"
        assert f"k3s-root-{goarch}.tar" in parsed
    # the k3s-root-dist payload (the k3s-root package's output; a stand-in tree here)
    root_dir = tmp_path / "k3s-root"
    tree = tmp_path / "tree"
    (tree / "bin" / "aux").mkdir(parents=True)
    (tree / "bin" / "busybox").write_text("fixture busybox\n")
    (tree / "etc").mkdir()
    root_dir.mkdir()
    subprocess.run(
        ["tar", "-cf", str(root_dir / "k3s-root-amd64.tar"), "-C", str(tree), "bin", "etc"],
        check=True,
    )
    srpm = next((p.root / "SRPMS").glob("k3s-*.src.rpm"))
    top = tmp_path / "rpmbuild"
    build = subprocess.run(
        [
            "rpmbuild",
            "--rebuild",
            "--nodeps",
            "--load",
            macros,
            "--define",
            f"_topdir {top}",
            "--define",
            f"k3s_root_dir {root_dir}",
            str(srpm),
        ],
        capture_output=True,
        text=True,
        env={**dict(__import__("os").environ), "GOPROXY": "off"},
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "a package build must never upload" not in build.stdout + build.stderr
    rpm_file = next((top / "RPMS" / "x86_64").glob("k3s-1.32.5+k3s1-1.emt3.x86_64.rpm"))
    files = subprocess.run(
        ["rpm", "-qpl", str(rpm_file)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert (
        "/usr/bin/k3s" in files
        and "/usr/share/k3s/install.sh" in files
        and "/usr/share/k3s/version" in files
    )
    assert not [f for f in files if f.startswith(("/etc", "/var", "/opt", "/usr/local"))]
    scripts = subprocess.run(
        ["rpm", "-qp", "--scripts", str(rpm_file)], capture_output=True, text=True, check=True
    )
    assert scripts.stdout.strip() == ""
    provides = subprocess.run(
        ["rpm", "-qp", "--provides", str(rpm_file)], capture_output=True, text=True, check=True
    ).stdout
    assert "k3s = 1.32.5+k3s1-1.emt3" in provides
    root = tmp_path / "image"
    root.mkdir()
    cpio = subprocess.run(["rpm2cpio", str(rpm_file)], capture_output=True, check=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=cpio, cwd=root, check=True)
    out = subprocess.run(
        [str(root / "usr/bin/k3s")], capture_output=True, text=True, check=True
    ).stdout
    assert out.split()[:2] == ["k3s", "v1.32.5+k3s1"]  # git_version.sh carried the real tag
    version = (root / "usr/share/k3s/version").read_text()
    assert "K3S_VERSION=v1.32.5+k3s1" in version and "K3S_ROOT_VERSION=v0.14.1" in version
    # the install script defaults to the embedded binary on a read-only /usr
    wrapper = (
        (root / "usr/share/k3s/install.sh")
        .read_text()
        .replace("/usr/share/k3s", str(root / "usr/share/k3s"))
    )
    (root / "w.sh").write_text(wrapper)
    res = subprocess.run(
        ["sh", str(root / "w.sh")],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert res.stdout.strip() == "skip=true bin=/usr/bin ro=true"


def test_chain_orders_k3s_root_before_k3s(
    newer: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default release's DAG, from the rendered specs: k3s BuildRequires k3s-root-dist."""
    up, proxy = newer
    for k, v in _go_env(proxy).items():
        monkeypatch.setenv(k, v)
    p = make_project(tmp_path / "p", up)
    p.write_release(k3s="v1.32.5+k3s1")  # every package
    p.run("all", "--until", "render", "--nodeps")
    from emtk3s.builders import graph as plan

    graph = plan.plan(plan.specs_in(p.root / "SPECS"))
    order = graph.order()
    assert set(order) == {
        "fuse-overlayfs",
        "k3s",
        "k3s-iptables-helpers",
        "k3s-root",
        "slirp4netns",
    }
    assert order.index("k3s-root") < order.index("k3s")
    assert graph.nodes["k3s"].deps == ["k3s-root"]
    assert "k3s-root-dist" in graph.nodes["k3s-root"].provides


def test_airgap_images_are_an_opt_in_subpackage(
    newer: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    up, proxy = newer
    for k, v in _go_env(proxy).items():
        monkeypatch.setenv(k, v)
    for goarch in ("amd64", "arm64"):
        up.files[
            f"/k3s-io/k3s/releases/download/v1.32.5+k3s1/k3s-airgap-images-{goarch}.tar.zst"
        ] = goarch.encode()
    off = _project(tmp_path, up, proxy, "off")
    off.run("all", "--until", "render")
    assert "airgap" not in (off.root / "SPECS/k3s/k3s.spec").read_text().split("%prep")[0]
    assert not [s for s in off.lock["packages"]["k3s"]["sources"] if "airgap" in s["name"]]
    on = _project(tmp_path, up, proxy, "on")
    on.write_release(k3s="v1.32.5+k3s1", packages=["k3s"], airgap_images=True)
    on.run("all", "--until", "srpm")
    root_dir = tmp_path / "k3s-root"
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "busybox").write_text("x\n")
    root_dir.mkdir()
    subprocess.run(
        ["tar", "-cf", str(root_dir / "k3s-root-amd64.tar"), "-C", str(tree), "bin"], check=True
    )
    srpm = next((on.root / "SRPMS").glob("k3s-*.src.rpm"))
    top = tmp_path / "rpmbuild"
    b = subprocess.run(
        [
            "rpmbuild",
            "--rebuild",
            "--nodeps",
            "--load",
            str(REPO / "emtk3s/data/emt.macros"),
            "--define",
            f"_topdir {top}",
            "--define",
            f"k3s_root_dir {root_dir}",
            str(srpm),
        ],
        capture_output=True,
        text=True,
    )
    assert b.returncode == 0, b.stdout[-2000:] + b.stderr[-2000:]
    sub = next((top / "RPMS" / "x86_64").glob("k3s-airgap-images-*.rpm"))
    files = subprocess.run(
        ["rpm", "-qpl", str(sub)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert files == [
        "/usr/share/k3s/images",
        "/usr/share/k3s/images/k3s-airgap-images-amd64.tar.zst",
    ]


def test_patches_are_files_applied_by_autopatch_and_srpm_proves_they_apply(
    newer: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    up, proxy = newer
    for k, v in _go_env(proxy).items():
        monkeypatch.setenv(k, v)
    p = _project(tmp_path, up, proxy, "p")
    shutil.copytree(REPO / "emtk3s/packages/k3s/templates", p.root / "templates/k3s")
    good = "--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n fixture k3s\n+patched for EMT\n"
    (p.root / "templates/k3s/0001-emt-readme.patch").write_text(good)
    p.run("all", "--until", "srpm")
    spec = (p.root / "SPECS/k3s/k3s.spec").read_text()
    assert "Patch0:         0001-emt-readme.patch" in spec and "%autopatch -p1" in spec
    assert (p.root / "SPECS/k3s/0001-emt-readme.patch").read_text() == good
    prep_log = (p.root / ".emtk3s/logs/prep-k3s.log").read_text()
    assert "0001-emt-readme.patch" in prep_log
    # a patch that no longer applies stops the SRPM with a clear error
    (p.root / "templates/k3s/0001-emt-readme.patch").write_text(
        good.replace("fixture k3s", "other text")
    )
    res = p.run("all", "--until", "srpm", check=False)
    assert res.code == 5
    assert "a patch does not apply" in res.err and "prep-k3s.log" in res.err
    assert (
        "FAILED" in (p.root / ".emtk3s/logs/prep-k3s.log").read_text()
        or "Hunk" in (p.root / ".emtk3s/logs/prep-k3s.log").read_text()
    )


def test_srpm_twice_identical_and_rpmlint_on_the_k3s_srpm(
    newer: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    up, proxy = newer
    for k, v in _go_env(proxy).items():
        monkeypatch.setenv(k, v)
    p = _project(tmp_path, up, proxy, "p")
    p.run("all", "--until", "srpm")
    srpm = next((p.root / "SRPMS").glob("k3s-*.src.rpm"))
    first = hashlib.sha256(srpm.read_bytes()).hexdigest()
    p.run("srpm", "--force")
    assert hashlib.sha256(srpm.read_bytes()).hexdigest() == first
    lint = subprocess.run(
        ["rpmlint", "-c", str(REPO / "emtk3s/data/rpmlint.toml"), str(srpm)],
        capture_output=True,
        text=True,
    )
    assert " 0 errors" in lint.stdout, lint.stdout


def test_older_version_sh_era(fresh_upstream: Upstream, tmp_path: Path) -> None:
    """An older K3s era: unquoted and ${VAR:-default} assignments, no VERSION_FLANNEL_PLUGIN."""
    files = k3s_tree.k3s_files()
    files["scripts/version.sh"] = (
        "#!/bin/bash\nVERSION_CNIPLUGINS=v1.3.0-k3s1\nVERSION_ROOT=${VERSION_ROOT:-v0.12.2}\n"
        'if [ -z "$VERSION_CRICTL" ]; then\n    VERSION_CRICTL="v0.0.0"\nfi\n'
    )
    fresh_upstream.commit_tag("k3s-io/k3s", files, "v1.28.5+k3s1")
    from tests.fixtures import k3s_root_tree

    fresh_upstream.commit_tag("k3s-io/k3s-root", k3s_root_tree.k3s_root_files(), "v0.12.2")
    p = make_project(tmp_path / "p", fresh_upstream)
    p.write_release(k3s="v1.28.5+k3s1", packages=["k3s-iptables-helpers"])
    p.run("resolve")
    facts = p.lock["components"]["k3s"]["facts"]
    assert facts["VERSION_ROOT"] == "v0.12.2" and facts["VERSION_CNIPLUGINS"] == "v1.3.0-k3s1"
    # the k3s package needs VERSION_FLANNEL_PLUGIN, which this era does not name: a clear error
    p.write_release(k3s="v1.28.5+k3s1", packages=["k3s"])
    res = p.run("resolve", check=False)
    assert res.code == 2 and "VERSION_FLANNEL_PLUGIN" in res.err


def test_default_release_chain_in_the_chroot_in_dag_order(
    newer: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every package of the release, built in the chroot backend in dependency order: k3s's
    BuildRequires k3s-root-dist is the RPM the chain built a moment before, installed into the
    chroot from the local repository, and the k3s build embeds that tree."""
    from tests.fixtures import chroot

    root = chroot.worker_chroot()
    up, proxy = newer
    for k, v in _go_env(proxy).items():
        monkeypatch.setenv(k, v)
    p = make_project(tmp_path / "p", up)
    p.write_release(k3s="v1.32.5+k3s1", arches=["x86_64"])  # every package
    p.run("all", "--until", "validate")
    res = p.run(
        "--json", "chain", "--backend", "chroot", "--chroot", str(root), "-j", "2", timeout=1200
    )
    doc = res.json["result"]
    status = {e["package"]: e["status"] for e in doc["packages"]}
    assert status == dict.fromkeys(
        ("fuse-overlayfs", "k3s", "k3s-iptables-helpers", "k3s-root", "slirp4netns"), "built"
    )
    assert doc["order"].index("k3s-root") < doc["order"].index("k3s")
    deps_log = (p.root / ".emtk3s/logs/build-k3s.deps.log").read_text()
    assert "k3s-root-dist" in deps_log
    log = (p.root / ".emtk3s/logs/build-k3s.log").read_text()
    assert "/usr/share/k3s-root/k3s-root-amd64.tar" in log
    rpms = {Path(r).name for e in doc["packages"] for r in e["rpms"]}
    assert (
        "k3s-1.32.5+k3s1-1.emt3.x86_64.rpm" in rpms
        and "k3s-root-dist-0.14.1-1.emt3.x86_64.rpm" in rpms
    )
