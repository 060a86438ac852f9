"""K3s from its tag: every component version read from the tag's own files, the Go vendor tarball
made deterministically with Debian's go and a file:// GOPROXY, and the RPM built from a fixture
tree whose scripts fail the way upstream's do (tests/fixtures/k3s_tree.py) — then the installed
binary is run: its server and agent start-up check passes only if the package did it right."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.conftest import ProjectDir, make_project
from tests.fixtures import gomodules, k3s_tree
from tests.fixtures.upstream import Upstream

REPO = Path(__file__).resolve().parents[2]
MACROS = str(REPO / "emtk3s/data/emt.macros")
REAL_GO = shutil.which("go") or "go"
GO_VERSION = subprocess.run(
    ["go", "env", "GOVERSION"], capture_output=True, text=True, env={**os.environ, "HOME": "/tmp"}
).stdout.strip()

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
    "k8s": "v1.32.5-k3s1",
}
TAG = "v1.32.5+k3s1"


#: the default release's packages without the addon images (whose Go payloads need a module
#: proxy serving coredns', metrics-server's and local-path-provisioner's modules)
K3S_CHAIN = ("fuse-overlayfs", "k3s", "k3s-iptables-helpers", "k3s-root", "slirp4netns")


def test_show_k3s_lists_the_versions_emt_ships(project: ProjectDir) -> None:
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
    # the module each VERSION_* comes from is version.sh's own get-module-version argument
    assert facts["modules"]["containerd"] == {
        "var": "VERSION_CONTAINERD",
        "path": "github.com/containerd/containerd/v2",
        "module": "github.com/k3s-io/containerd/v2",  # the replace wins, as `go list -m`
        "version": "v2.0.4-k3s2",
    }
    assert facts["modules"]["k8s_k3s"]["version"] == "v1.32.4-k3s1"
    assert facts["go"] == "1.19"  # go.mod's minimum
    # what the scripts clone, and where
    clones = facts["clones"]
    assert clones["VERSION_CONTAINERD"] == {
        "repo": "k3s-io/containerd",
        "dir": "build/src/github.com/containerd/containerd",
        "version": "v2.0.4-k3s2",
        "from": "scripts/download",
        "line": 14,
    }
    assert clones["VERSION_CNIPLUGINS"]["dir"] == "build/src/github.com/containernetworking/plugins"
    assert clones["VERSION_FLANNEL_PLUGIN"]["dir"].endswith("plugins/plugins/meta/flannel")
    assert clones["VERSION_FLANNEL_PLUGIN"]["from"] == "scripts/build"
    assert facts["golang"] == {"assigned": True, "stamped": True, "readonly_list": False}
    sources = {s["name"]: s for s in doc["package"]["sources"]}
    # every downloaded source is pinned by EMT's public signatures; the vendor tarball is ours
    for name, s in sources.items():
        if name.startswith("k3s-vendor-"):
            assert s["mirror"] == "generated" and not s["pinned"]
        else:
            assert s["origin"] == "public-record", name
    assert "k3s-root-amd64.tar" not in str(sources) and "airgap" not in str(sources)


def test_resolve_follows_the_tags_own_module_paths_and_clones(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    """Defect 10: an era whose version.sh asks for github.com/containerd/containerd (no /v2)
    and whose download clones containerd from another place resolves from those files."""
    files = k3s_tree.k3s_files(containerd_module="github.com/containerd/containerd")
    files["scripts/download"] = str(files["scripts/download"]).replace(
        "CONTAINERD_DIR=build/src/github.com/containerd/containerd",
        "CONTAINERD_DIR=build/src/github.com/k3s-io/containerd-fork",
    )
    fresh_upstream.commit_tag("k3s-io/k3s", files, "v1.32.8+k3s1", modes=k3s_tree.MODES)
    p = make_project(tmp_path / "p", fresh_upstream)
    p.write_release(k3s="v1.32.8+k3s1", packages=["k3s"])
    p.run("resolve")
    facts = p.lock["components"]["k3s"]["facts"]
    assert facts["modules"]["containerd"]["path"] == "github.com/containerd/containerd"
    assert facts["modules"]["containerd"]["version"] == "v2.0.4-k3s2"
    assert facts["clones"]["VERSION_CONTAINERD"]["dir"] == (
        "build/src/github.com/k3s-io/containerd-fork"
    )
    names = [s["name"] for s in p.lock["packages"]["k3s"]["sources"]]
    assert "containerd-v2.0.4-k3s2.tar.gz" in names


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


def _newer_tag(up: Upstream, tag: str = TAG, **kw: object) -> None:
    up.commit_tag(
        "k3s-io/k3s",
        k3s_tree.k3s_files(
            runc=NEW["runc"],
            containerd=NEW["containerd"],
            cni=NEW["cni"],
            flannel=NEW["flannel"],
            chart=NEW["chart"],
            k8s=NEW["k8s"],
            **kw,  # type: ignore[arg-type]
        ),
        tag,
        modes=k3s_tree.MODES,
    )


def _publish_newer(up: Upstream, tmp: Path) -> str:
    """Publish the newer K3s tag, its components and charts; return a file:// module proxy."""
    _newer_tag(up, readonly=True)
    for key, version in (
        ("runc", NEW["runc"]),
        ("containerd", NEW["containerd"]),
        ("cni", NEW["cni"]),
        ("flannel", NEW["flannel"]),
    ):
        repo, files = k3s_tree.COMPONENT_TREES[key]
        up.commit_tag(repo, files(version), version)
    for chart in ("traefik-crd", "traefik"):
        up.files[f"/k3s-charts/assets/{chart}/{chart}-{NEW['chart']}.tgz"] = chart.encode()
    mods = gomodules.modules(containerd=NEW["containerd"], runc=NEW["runc"], k8s=NEW["k8s"])
    return gomodules.write_proxy(tmp / "goproxy", mods)


@pytest.fixture()
def newer(fresh_upstream: Upstream, tmp_path: Path) -> tuple[Upstream, str]:
    """A K3s tag whose components are not in any public record (so fixture bytes get pinned).
    Its version.sh forces `go list -mod=readonly`, as newer tags do (defect 6)."""
    up = fresh_upstream
    return up, _publish_newer(up, tmp_path)


def _project(tmp: Path, up: Upstream, proxy: str, name: str, **release: object) -> ProjectDir:
    p = make_project(tmp / name, up)
    p.write_release(k3s=TAG, packages=["k3s"], **release)
    return p


def _go_env(proxy: str) -> dict[str, str]:
    return {"GOPROXY": proxy, "GOSUMDB": "off", "GONOSUMDB": "*", "GOFLAGS": ""}


def _vendor_source(p: ProjectDir) -> dict[str, object]:
    return next(
        s for s in p.lock["packages"]["k3s"]["sources"] if str(s["name"]).startswith("k3s-vendor-")
    )


def test_vendor_tarball_is_deterministic_records_its_go_and_builds_offline(
    newer: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    up, proxy = newer
    for k, v in _go_env(proxy).items():
        monkeypatch.setenv(k, v)
    a = _project(tmp_path, up, proxy, "a")
    a.run("resolve")
    res = a.run("--json", "fetch").json["result"]
    assert res["generated"] == [f"k3s/k3s-vendor-{TAG[1:]}.tar.gz"]
    src = _vendor_source(a)
    # defect 9: the lock records which Go made the tarball
    assert src["origin"] == f"generated by {GO_VERSION}" and src["pinned"]
    b = _project(tmp_path, up, proxy, "b")  # another project, another cache: the same bytes
    b.run("resolve")
    b.run("fetch")
    assert _vendor_source(b)["sha256"] == src["sha256"]
    vendor = next((a.cache / "blobs").rglob(str(src["sha256"])))
    with tarfile.open(vendor) as tf:
        names = tf.getnames()
        assert "vendor/modules.txt" in names
        assert "vendor/github.com/opencontainers/runc/runc.go" in names
        assert {m.uid for m in tf.getmembers()} == {0}
    # offline build with the vendor tree: no proxy, no network
    k3s_src = next(
        s for s in a.lock["packages"]["k3s"]["sources"] if s["name"] == f"k3s-{TAG[1:]}.tar.gz"
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
    }
    subprocess.run(
        [REAL_GO, "build", "-ldflags", f"-X main.version={TAG}", "-o", "k3s", "./cmd/server"],
        cwd=top,
        env=env,
        check=True,
        capture_output=True,
    )
    out = subprocess.run([str(top / "k3s")], capture_output=True, text=True, check=True).stdout
    assert out.split() == [
        "k3s",
        TAG,
        "containerd",
        "fixture",
        "runc",
        "fixture",
        "flannel",
        "fixture",
        "kubernetes",
        "fixture",
    ]


def test_vendor_verify_remakes_and_compares_the_tree(
    newer: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """vendor --verify makes the tarball again and compares trees: the same tree passes (also
    repacked, as another packer, e.g. EMT's, would pack it); a tree with a file more fails
    naming it."""
    import hashlib
    import io
    import json

    up, proxy = newer
    for k, v in _go_env(proxy).items():
        monkeypatch.setenv(k, v)
    a = _project(tmp_path, up, proxy, "a")
    a.run("resolve")
    a.run("fetch")
    ok = a.run("--json", "vendor", "--verify").json["result"]
    assert [r["same_tree"] for r in ok["verified"]] == [True]
    src = _vendor_source(a)
    blob = next((a.cache / "blobs").rglob(str(src["sha256"])))

    def repack(extra: dict[str, bytes]) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(blob) as old, tarfile.open(fileobj=buf, mode="w:gz") as new:
            for m in old.getmembers():
                m.mtime = 1  # other timestamps: other bytes, the same tree
                new.addfile(m, old.extractfile(m) if m.isfile() else None)
            for name, data in extra.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                new.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    def pin(data: bytes) -> None:
        sha = hashlib.sha256(data).hexdigest()
        doc = json.loads((a.root / "emtk3s.lock").read_text())
        for s in doc["packages"]["k3s"]["sources"]:
            if s["name"] == src["name"]:
                s.update(sha256=sha, size=len(data), origin="emt-record by k3s-vendor-v1.tar.gz")
        (a.root / "emtk3s.lock").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        from emtk3s.infra.cache import Cache

        Cache(a.cache).add_bytes(data, sha, str(src["name"]))

    pin(repack({}))
    same = a.run("--json", "vendor", "--verify").json["result"]
    assert same["verified"][0]["same_tree"] and same["verified"][0]["origin"].startswith("emt-")
    pin(repack({"vendor/example.invalid/extra.go": b"package extra\n"}))
    bad = a.run("--json", "vendor", "--verify", check=False)
    assert bad.code == 3, bad.out
    assert "only in the pinned tarball: vendor/example.invalid/extra.go" in bad.out


def test_vendor_refuses_a_too_old_go_and_another_go_than_the_lock_records(
    newer: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 9: a go older than go.mod's go line is refused with a clear error; so is a go
    other than the one that made the tarball the lock pins."""
    up, proxy = newer
    for k, v in _go_env(proxy).items():
        monkeypatch.setenv(k, v)
    files = k3s_tree.k3s_files(
        runc=NEW["runc"],
        containerd=NEW["containerd"],
        cni=NEW["cni"],
        flannel=NEW["flannel"],
        chart=NEW["chart"],
        k8s=NEW["k8s"],
    )
    files["go.mod"] = str(files["go.mod"]).replace("\ngo 1.19\n", "\ngo 1.99.1\n")
    up.commit_tag("k3s-io/k3s", files, "v1.32.5+k3s2", modes=k3s_tree.MODES)
    old = make_project(tmp_path / "old", up)
    old.write_release(k3s="v1.32.5+k3s2", packages=["k3s"])
    old.run("resolve")
    res = old.run("vendor", check=False)
    assert res.code == 6, res.err
    assert f"{GO_VERSION} is older than go 1.99.1" in res.err and "go.mod requires" in res.err
    assert "docs/packages/k3s.md#vendoring" in res.err
    assert "Traceback" not in res.err
    assert not _vendor_source(old)["pinned"]
    # the lock says go1.23.7 made the pinned tarball: this go may not silently re-make it
    a = _project(tmp_path, up, proxy, "a")
    a.run("resolve")
    a.run("vendor")
    lock = a.lock
    src = next(s for s in lock["packages"]["k3s"]["sources"] if s["name"].startswith("k3s-vendor"))
    src["origin"] = "generated by go1.23.7"
    c = _project(tmp_path, up, proxy, "c")
    (c.root / "emtk3s.lock").write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    res = c.run("vendor", check=False)
    assert res.code == 6, res.err
    assert f"made by go1.23.7, this go is {GO_VERSION}" in res.err


def test_sigterm_during_vendoring_leaves_no_go_and_no_scratch(
    newer: tuple[Upstream, str], tmp_path: Path
) -> None:
    """SIGTERM while `go mod vendor` runs kills go (and its children) and
    removes the scratch tree."""
    up, proxy = newer
    fake = tmp_path / "fakebin"
    fake.mkdir()
    # go runs in the generator sandbox (its own pid namespace, tmp_path read-only): the host
    # finds go and its child by their command lines, not by pids written from inside
    tag = f"emtk3s-fake-go-child-{os.getpid()}"
    (fake / "go").write_text(
        "#!/bin/bash\n"
        f'if [ "$1" = env ]; then echo {GO_VERSION}; exit 0; fi\n'
        f"bash -c 'exec -a {tag} sleep 300' &\nwait\n"
    )
    (fake / "go").chmod(0o755)
    p = _project(tmp_path, up, proxy, "p")
    p.run("resolve")
    env = {**p.env(), "PATH": f"{fake}:{os.environ['PATH']}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "emtk3s", "-C", str(p.root), "vendor"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while len(running := _pids_with(str(fake / "go"), tag)) < 2:
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.1)
    go_pid, child_pid = running[:2]
    assert list((p.cache / "tmp").glob("gen-k3s-*"))  # the scratch tree exists while go runs
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    for pid in (go_pid, child_pid):
        assert not _alive(pid), pid
    assert not list((p.cache / "tmp").glob("gen-k3s-*"))
    assert not _vendor_source(p)["pinned"]


def _pids_with(*needles: str) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if any(n in cmd for n in needles):
                out.append(int(d.name))
    return sorted(out)


def _alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet is dead: this container's init may not reap)."""
    for _ in range(50):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        if state in ("Z", "X"):
            return False
        time.sleep(0.1)
    return True


def _k3s_root_dir(tmp: Path) -> Path:
    """The k3s-root-dist payload (the k3s-root package's output; a stand-in tree here)."""
    root_dir = tmp / "k3s-root"
    tree = tmp / "k3s-root-tree"
    (tree / "bin" / "aux").mkdir(parents=True)
    (tree / "bin" / "busybox").write_text("fixture busybox\n")
    (tree / "etc").mkdir()
    root_dir.mkdir()
    for goarch in ("amd64", "arm64"):
        subprocess.run(
            ["tar", "-cf", str(root_dir / f"k3s-root-{goarch}.tar"), "-C", str(tree), "bin", "etc"],
            check=True,
        )
    return root_dir


def _rpmbuild(
    srpm: Path, top: Path, root_dir: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "rpmbuild",
            "--rebuild",
            "--nodeps",
            "--load",
            MACROS,
            "--define",
            f"_topdir {top}",
            "--define",
            f"k3s_root_dir {root_dir}",
            *extra,
            str(srpm),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "GOPROXY": "off", "HOME": str(top)},
    )


def _unpack(rpm_file: Path, root: Path) -> None:
    root.mkdir(exist_ok=True)
    cpio = subprocess.run(["rpm2cpio", str(rpm_file)], capture_output=True, check=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=cpio, cwd=root, check=True)


def _q(rpm_file: Path, *what: str) -> str:
    return subprocess.run(
        ["rpm", "-qp", *what, str(rpm_file)], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The RPMs of the fixture release (module scope: one real build for the tests below)."""
    tmp = tmp_path_factory.mktemp("k3sbuild")
    up = Upstream(tmp / "upstream").start()
    from tests.fixtures import k3s_release

    k3s_release.populate(up)
    mp = pytest.MonkeyPatch()
    try:
        proxy = _publish_newer(up, tmp)
        for k, v in _go_env(proxy).items():
            mp.setenv(k, v)
        p = _project(tmp, up, proxy, "p")
        p.run("all", "--until", "srpm")
        srpm = next((p.root / "SRPMS").glob("k3s-*.src.rpm"))
        top = tmp / "rpmbuild"
        build = _rpmbuild(srpm, top, _k3s_root_dir(tmp))
        (tmp / "build.log").write_text(build.stdout + build.stderr)
        assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
        rpms = top / "RPMS" / "x86_64"
        yield {
            "main": next(rpms.glob(f"k3s-{TAG[1:]}-1.emt3.x86_64.rpm")),
            "links": next(rpms.glob("k3s-links-*.rpm")),
            "spec": p.root / "SPECS/k3s/k3s.spec",
            "log": tmp / "build.log",
            "tmp": tmp,
        }
    finally:
        mp.undo()
        up.stop()


def test_the_installed_binary_starts_server_and_agent(built: dict[str, Path]) -> None:
    """Defects 1-3 and 6: the RPM builds from a tree whose scripts fail like upstream's (a
    containerd at k3s-io/..., a CNI `git clone`, VERSION_GOLANG from curl, build-upload, go list
    -mod=readonly), and the installed binary's server and agent start-up check passes."""
    log = built["log"].read_text()
    assert "a package build must never upload" not in log
    assert "git clone" not in log  # bin/cni came from the pinned plugins tree
    root = built["tmp"] / "image"
    _unpack(built["main"], root)
    for role in ("server", "agent"):
        data = built["tmp"] / f"data-{role}"
        res = subprocess.run(
            [str(root / "usr/bin/k3s"), role],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "K3S_DATA_DIR": str(data)},
        )
        assert res.returncode == 0, res.stdout + res.stderr
        lines = res.stdout.splitlines()
        # defect 3: the stamped Go is the one that compiled the binary
        assert lines[-1] == f"k3s-{role} {TAG} started ({GO_VERSION})"
        # defect 2: the CNI binary carries flannel's plugin from the pinned sources
        assert f"cni: CNI Plugin flannel version {NEW['flannel']}+v0.26.4" in lines
        # defect 1: the shim was built from the containerd tree scripts/build pushes into
        assert f"shim: containerd-shim-runc-v2 k3s-io/containerd {NEW['containerd']}" in lines
        assert f"runc: runc version {NEW['runc'][1:]}" in lines
        assert "selinux: true" in lines  # defect 8: the default release builds with SELinux
    version = (root / "usr/share/k3s/version").read_text()
    assert f"K3S_VERSION={TAG}" in version and "K3S_SELINUX=true" in version


def test_the_build_is_dynamic_and_declares_what_it_needs(built: dict[str, Path]) -> None:
    """Defect 5: no STATIC_BUILD (it cannot link on EMT: no static libseccomp); the embedded
    binaries link glibc dynamically and the package requires what they need."""
    spec = built["spec"].read_text()
    assert "STATIC_BUILD=false" in spec and "glibc-static" not in spec
    data = built["tmp"] / "data-server" / "data" / "current" / "bin"
    dyn = subprocess.run(
        ["readelf", "-d", str(data / "k3s")], capture_output=True, text=True, check=True
    ).stdout
    assert "libc.so.6" in dyn
    requires = _q(built["main"], "--requires")
    for need in ("libseccomp", "glibc", "iptables", "conntrack-tools"):
        assert need in requires.split(), requires


def test_killall_uninstall_and_the_links_subpackage(built: dict[str, Path]) -> None:
    """Defect 7: what upstream's read-only install leaves out is in the package."""
    files = _q(built["main"], "-l").split()
    assert {
        "/usr/bin/k3s",
        "/usr/bin/k3s-killall.sh",
        "/usr/bin/k3s-uninstall.sh",
        "/usr/share/k3s/install.sh",
        "/usr/share/k3s/version",
        "/opt/install.sh",  # where Cluster API's K3s provider runs it by default
    } <= set(files)
    assert not [f for f in files if f.startswith(("/etc", "/var", "/usr/local"))]
    assert [f for f in files if f.startswith("/opt")] == ["/opt/install.sh"]
    assert _q(built["main"], "--scripts").strip() == ""
    assert f"k3s = {TAG[1:]}-1.emt3" in _q(built["main"], "--provides")
    links = _q(built["links"], "-l").split()
    assert links == ["/usr/bin/crictl", "/usr/bin/ctr", "/usr/bin/kubectl"]
    conflicts = _q(built["links"], "--conflicts").split()
    assert {"kubernetes-client", "cri-tools", "containerd"} <= set(conflicts)
    root = built["tmp"] / "image-links"
    _unpack(built["links"], root)
    assert os.readlink(root / "usr/bin/kubectl") == "k3s"
    # the uninstaller removes the cluster's state, never a file an RPM owns
    fake = built["tmp"] / "fake-root"
    for rel in (
        "var/lib/rancher/k3s/server/db/state.db",
        "etc/rancher/k3s/k3s.yaml",
        "etc/rancher/k3s/owned-by-rpm.yaml",
        "etc/systemd/system/k3s.service",
        "etc/systemd/system/k3s.service.env",
        "var/lib/kubelet/pods/x",
        "usr/bin/k3s",
    ):
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text("x\n")
    stub = built["tmp"] / "stubbin"
    stub.mkdir(exist_ok=True)
    (stub / "rpm").write_text(
        '#!/bin/sh\ncase "$2" in */owned-by-rpm.yaml|*/etc/rancher/k3s) exit 0 ;; esac\nexit 1\n'
    )
    (stub / "rpm").chmod(0o755)
    image = built["tmp"] / "image"
    if not image.exists():
        _unpack(built["main"], image)
    res = subprocess.run(
        ["sh", str(image / "usr/bin/k3s-uninstall.sh")],
        capture_output=True,
        text=True,
        env={
            "PATH": f"{stub}:/usr/bin:/bin",
            "K3S_UNINSTALL_ROOT": str(fake),
            "K3S_KILLALL": "true",
        },
    )
    assert res.returncode == 0, res.stderr
    left = sorted(str(f.relative_to(fake)) for f in fake.rglob("*") if f.is_file())
    assert left == ["etc/rancher/k3s/owned-by-rpm.yaml", "usr/bin/k3s"], left
    assert "keeping" in res.stdout and "owned-by-rpm.yaml" in res.stdout
    # CAPI's airGappedInstallScriptPath default runs the same installer as /usr/share/k3s's
    capi = image / "opt/install.sh"
    assert capi.read_bytes() == (image / "usr/share/k3s/install.sh").read_bytes()
    assert capi.stat().st_mode & 0o777 == 0o755
    killall = (image / "usr/bin/k3s-killall.sh").read_text()
    subprocess.run(["sh", "-n", str(image / "usr/bin/k3s-killall.sh")], check=True)
    for step in ("containerd-shim", "umount", "ip link delete", "iptables", "KUBE-"):
        assert step in killall


def test_aarch64_spec_parses_preps_and_installs_what_package_cli_makes(
    newer: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 4: package-cli names the arm64 artifact k3s-arm64; the aarch64 spec installs
    exactly that, and `rpmbuild -bp --target aarch64` passes. Defect 6 (build-upload): a tag
    whose package-cli no longer calls build-upload preps too."""
    up, proxy = newer
    _newer_tag(up, readonly=True, upload=False)  # moves the tag: package-cli without upload
    for k, v in _go_env(proxy).items():
        monkeypatch.setenv(k, v)
    p = _project(tmp_path, up, proxy, "p")
    p.run("all", "--until", "srpm")
    spec = p.root / "SPECS/k3s/k3s.spec"
    parsed = subprocess.run(
        ["rpmspec", "-P", "--target", "aarch64", "--load", MACROS, str(spec)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    install = next(line for line in parsed.splitlines() if "dist/artifacts/" in line)
    artifact = install.split("dist/artifacts/")[1].split()[0]
    assert "k3s-root-arm64.tar" in parsed
    # %prep for aarch64, for real (rpmbuild -bp; the k3s-root step needs the installed package)
    topdir = tmp_path / "bp"
    for d in ("SOURCES", "SPECS", "BUILD"):
        (topdir / d).mkdir(parents=True)
    for s in p.lock["packages"]["k3s"]["sources"]:
        shutil.copy(next((p.cache / "blobs").rglob(s["sha256"])), topdir / "SOURCES" / s["name"])
    bp = subprocess.run(
        [
            "rpmbuild",
            "-bp",
            "--nodeps",
            "--target",
            "aarch64",
            "--load",
            MACROS,
            "--define",
            f"_topdir {topdir}",
            "--define",
            "_emtk3s_prep_check 1",
            str(spec),
        ],
        capture_output=True,
        text=True,
    )
    assert bp.returncode == 0, bp.stdout[-3000:] + bp.stderr[-3000:]
    tree = next((topdir / "BUILD").iterdir())
    assert "build-upload" not in (tree / "scripts/package-cli").read_text()
    # the tag's own `go list -mod=readonly` stays: %build's PATH answers it from
    # vendor/modules.txt (build/emtk3s-bin/go, written by %prep)
    assert "-mod=readonly" in (tree / "scripts/version.sh").read_text()
    assert os.access(tree / "build/emtk3s-bin/go", os.X_OK)
    assert (
        'VERSION_GOLANG="$("${GO:-go}" env GOVERSION)"' in (tree / "scripts/version.sh").read_text()
    )
    flannel = tree / "build/src/github.com/containernetworking/plugins/plugins/meta/flannel"
    assert "package flannel" in (flannel / "flannel.go").read_text()
    # what the tag's own package-cli, as %prep left it, makes for ARCH=arm64 (the CLI is pure
    # Go: it cross-builds) is exactly what the aarch64 %install installs
    (tree / "bin" / "cni").write_text("x")
    work = tmp_path / "cli"
    work.mkdir()
    res = subprocess.run(
        ["./scripts/package-cli"],
        cwd=tree,
        capture_output=True,
        text=True,
        env={  # as %build runs it
            "PATH": f"{tree}/build/emtk3s-bin:{Path(REAL_GO).parent}:/usr/bin:/bin",
            "EMTK3S_GO": REAL_GO,
            "EMTK3S_TOP": str(tree),
            "HOME": str(work),
            "ARCH": "arm64",
            "GOARCH": "arm64",
            "GOFLAGS": "-mod=vendor",
            "GOPROXY": "off",
            "GOCACHE": str(work / "gocache"),
        },
    )
    assert res.returncode == 0, res.stderr[-2000:]
    made = [f.name for f in (tree / "dist/artifacts").iterdir()]
    assert made == [artifact] == ["k3s-arm64"]


def test_prep_fails_loudly_when_the_golang_line_is_gone(
    newer: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 3: the VERSION_GOLANG edit is checked — a version.sh without the line while
    scripts/build still stamps it stops %prep (never a binary that refuses to start)."""
    up, proxy = newer
    files = k3s_tree.k3s_files(
        runc=NEW["runc"],
        containerd=NEW["containerd"],
        cni=NEW["cni"],
        flannel=NEW["flannel"],
        chart=NEW["chart"],
        k8s=NEW["k8s"],
    )
    files["scripts/version.sh"] = "\n".join(
        line
        for line in str(files["scripts/version.sh"]).splitlines()
        if not line.startswith("VERSION_GOLANG=")
    )
    up.commit_tag("k3s-io/k3s", files, TAG, modes=k3s_tree.MODES)
    for k, v in _go_env(proxy).items():
        monkeypatch.setenv(k, v)
    p = _project(tmp_path, up, proxy, "p")
    p.run("resolve")
    assert p.lock["components"]["k3s"]["facts"]["golang"]["assigned"] is False
    (p.root / "templates/k3s").mkdir(parents=True)
    for f in (REPO / "emtk3s/packages/k3s/templates").iterdir():
        shutil.copy(f, p.root / "templates/k3s" / f.name)
    # a harmless patch makes srpm run %prep (rpmbuild -bp)
    (p.root / "templates/k3s/0001-readme.patch").write_text(
        "--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n fixture k3s\n+EMT\n"
    )
    res = p.run("all", "--until", "srpm", check=False)
    assert res.code == 5, res.err
    log = (p.root / ".emtk3s/logs/prep-k3s.log").read_text()
    assert "stamps VERSION_GOLANG but scripts/version.sh assigns no VERSION_GOLANG= line" in log


def test_selinux_is_a_release_option(
    newer: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 8: SELINUX follows release.toml (default true, as upstream builds)."""
    up, proxy = newer
    for k, v in _go_env(proxy).items():
        monkeypatch.setenv(k, v)
    on = _project(tmp_path, up, proxy, "on")
    on.run("all", "--until", "render")
    assert "export SELINUX=true" in (on.root / "SPECS/k3s/k3s.spec").read_text()
    off = _project(tmp_path, up, proxy, "off", selinux=False)
    off.run("all", "--until", "render")
    spec = (off.root / "SPECS/k3s/k3s.spec").read_text()
    assert "export SELINUX=false" in spec and "K3S_SELINUX=false" in spec
    bad = _project(tmp_path, up, proxy, "bad", selinux="yes")
    res = bad.run("resolve", check=False)
    assert res.code == 2 and "release.selinux = 'yes' is not true or false" in res.err


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
    mods = gomodules.modules(containerd=NEW["containerd"], runc=NEW["runc"], k8s=NEW["k8s"])
    mods["github.com/opencontainers/runc"] = (NEW["runc"], "runc", "tampered")
    monkeypatch.setenv("GOPROXY", gomodules.write_proxy(tmp_path / "goproxy2", mods))
    c = _project(tmp_path, up, proxy, "c")
    c.run("resolve")
    res = c.run("fetch", check=False)
    assert res.code == 5, res.err
    assert "github.com/opencontainers/runc@v1.2.6: checksum mismatch" in res.err
    assert not _vendor_source(c)["pinned"]
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
        f"k3s-vendor-{TAG[1:]}.tar.gz" in res.err
        and "differs from the one the lock pins" in res.err
    )
    assert "1" * 64 in res.err


def test_chain_orders_k3s_root_before_k3s(
    newer: tuple[Upstream, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default release's DAG, from the rendered specs: k3s BuildRequires k3s-root-dist."""
    up, proxy = newer
    for k, v in _go_env(proxy).items():
        monkeypatch.setenv(k, v)
    p = make_project(tmp_path / "p", up)
    # the K3s chain of the default release (its addon image packages vendor Go payloads this
    # fixture's module proxy does not serve; test_addon_images_package.py builds those)
    p.write_release(k3s="v1.32.5+k3s1", packages=list(K3S_CHAIN))
    p.run("all", "--until", "render", "--nodeps")
    from emtk3s.builders import graph as build_graph

    graph = build_graph.plan(build_graph.specs_in(p.root / "SPECS"))
    order = graph.order()
    assert set(order) == set(K3S_CHAIN)
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
    srpm = next((on.root / "SRPMS").glob("k3s-*.src.rpm"))
    top = tmp_path / "rpmbuild"
    b = _rpmbuild(srpm, top, _k3s_root_dir(tmp_path))
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
    """An older K3s era (tests/data/k3s/1.28) with unquoted and ${VAR:-default} assignments and
    no separate flannel plugin: every value is read, and the k3s package has no flannel Source."""
    from tests.fixtures import k3s_eras

    meta = k3s_eras.publish(fresh_upstream, "1.28", tag="v1.28.5+k3s1")
    files = k3s_tree.era_files("1.28")
    vsh = str(files["scripts/version.sh"])
    vsh = vsh.replace('VERSION_ROOT="v0.12.2"', "VERSION_ROOT=${VERSION_ROOT:-v0.12.2}")
    vsh = vsh.replace('VERSION_CNIPLUGINS="v1.4.0-k3s2"', "VERSION_CNIPLUGINS=v1.4.0-k3s2")
    files["scripts/version.sh"] = vsh
    files["go.mod"] = str(files["go.mod"]).replace("v1.28.8", "v1.28.5")
    fresh_upstream.commit_tag(
        "k3s-io/k3s", files, "v1.28.5+k3s1", modes=k3s_tree.modes(files), clean=True
    )
    p = make_project(tmp_path / "p", fresh_upstream)
    p.write_release(k3s="v1.28.5+k3s1", packages=["k3s"])
    p.run("resolve")
    facts = p.lock["components"]["k3s"]["facts"]
    assert facts["VERSION_ROOT"] == "v0.12.2" and facts["VERSION_CNIPLUGINS"] == "v1.4.0-k3s2"
    assert meta["expect"]["k3s_root"] == "v0.12.2"
    assert "VERSION_FLANNEL_PLUGIN" not in facts["clones"]
    names = [s["name"] for s in p.lock["packages"]["k3s"]["sources"]]
    assert not [n for n in names if n.startswith("flannel-")]


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
    p.write_release(k3s="v1.32.5+k3s1", arches=["x86_64"], packages=list(K3S_CHAIN))
    p.run("all", "--until", "validate")
    res = p.run(
        "--json", "chain", "--backend", "chroot", "--chroot", str(root), "-j", "2", timeout=1200
    )
    doc = res.json["result"]
    status = {e["package"]: e["status"] for e in doc["packages"]}
    assert status == dict.fromkeys(K3S_CHAIN, "built")
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
    # the chain's k3s, with the chain's k3s-root tree embedded, starts
    k3s_rpm = next(Path(r) for e in doc["packages"] for r in e["rpms"] if "/k3s-1.32" in r)
    image = tmp_path / "image"
    _unpack(k3s_rpm, image)
    started = subprocess.run(
        [str(image / "usr/bin/k3s"), "server"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "K3S_DATA_DIR": str(tmp_path / "data")},
    )
    assert started.returncode == 0, started.stdout + started.stderr
    assert started.stdout.splitlines()[-1].startswith("k3s-server v1.32.5+k3s1 started (go")
    assert (tmp_path / "data/data/current/bin/busybox").exists()  # k3s-root's tree


def test_default_release_renders_with_the_vendor_tarball_pending(tmp_path: Path) -> None:
    """The committed lock (v1.32.4+k3s1, commit from nixpkgs' public record): SPECS/k3s renders
    with the vendor tarball PENDING; srpm and emt integrate refuse the package."""
    from tests.fixtures import emt_checkout

    lock = json.loads((REPO / "emtk3s.lock").read_text())
    comp = lock["components"]["k3s"]
    assert comp["commit"] == "6b330558e47a257134434508c851193bb4e9bf9d"
    assert "nixpkgs" in comp["facts"]["_commit_source"]
    p = tmp_path / "p"
    p.mkdir()
    shutil.copy(REPO / "release.toml", p / "release.toml")
    shutil.copy(REPO / "emtk3s.lock", p / "emtk3s.lock")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMTK3S_")}
    env["EMTK3S_CACHE"] = str(tmp_path / "cache")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "emtk3s", "-C", str(p), *args],
            capture_output=True,
            text=True,
            env=env,
        )

    res = run("render", "-p", "k3s")
    assert res.returncode == 0, res.stderr
    assert "PENDING: k3s/k3s-vendor-1.32.4+k3s1.tar.gz" in res.stdout
    spec = (p / "SPECS/k3s/k3s.spec").read_text()
    assert "# PENDING: k3s-vendor-1.32.4+k3s1.tar.gz" in spec
    assert "%global k3s_commit 6b330558e47a257134434508c851193bb4e9bf9d" in spec
    sigs = json.loads((p / "SPECS/k3s/k3s.signatures.json").read_text())["Signatures"]
    assert sigs["k3s-vendor-1.32.4+k3s1.tar.gz"] == "PENDING"
    assert (p / "SPECS/k3s/k3s.spec").read_bytes() == (REPO / "SPECS/k3s/k3s.spec").read_bytes()
    res = run("srpm", "-p", "k3s")
    assert res.returncode == 3, res.stderr
    assert "k3s-vendor-1.32.4+k3s1.tar.gz is PENDING" in res.stderr
    emt = emt_checkout.make(tmp_path / "emt")

    def snapshot() -> dict[str, bytes]:
        return {str(f): f.read_bytes() for f in sorted(emt.rglob("*")) if f.is_file()}

    before = snapshot()
    res = run("emt", "integrate", "--emt-repo", str(emt))
    assert res.returncode == 3, res.stderr
    assert "PENDING" in res.stderr
    assert snapshot() == before  # nothing written
