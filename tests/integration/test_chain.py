"""Chain builds in a real build chroot (debootstrap + rpm): dependency order from the specs,
BuildRequires from the local repository, no network inside, the cached chroot left clean."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from tests.conftest import ProjectDir, make_project
from tests.fixtures import chroot, cpkgs
from tests.fixtures.upstream import Upstream

HELPERS = "k3s-iptables-helpers"


@pytest.fixture(scope="module")
def root() -> Path:
    return chroot.worker_chroot()


def _project(tmp_path: Path, upstream: Upstream, *names: str, port: int = 9) -> ProjectDir:
    p = make_project(tmp_path / "proj", upstream)
    p.write_release(packages=[HELPERS])
    p.run("all", "--until", "validate")
    for n in names:
        cpkgs.write(p.root / "SPECS", n, port=port)
    return p


def _rpm_names(p: ProjectDir) -> set[str]:
    return {f.name for f in (p.root / "RPMS").rglob("*.rpm")}


def test_chain_builds_in_dependency_order_in_the_chroot(
    tmp_path: Path, upstream: Upstream, root: Path
) -> None:
    p = _project(tmp_path, upstream, "fixture-a", "fixture-b")
    res = p.run("--json", "chain", "--backend", "chroot", "--chroot", str(root), "-j", "2").json[
        "result"
    ]
    order = res["order"]
    assert order.index("fixture-a") < order.index("fixture-b")
    assert {e["package"]: e["status"] for e in res["packages"]} == {
        "fixture-a": "built",
        "fixture-b": "built",
        HELPERS: "built",
    }
    names = _rpm_names(p)
    assert {
        "fixture-a-1.0-1.emt3.x86_64.rpm",
        "fixture-a-devel-1.0-1.emt3.x86_64.rpm",
        "fixture-b-1.0-1.emt3.x86_64.rpm",
        f"{HELPERS}-0.14.1-1.emt3.noarch.rpm",
    } <= names
    graph = json.loads((p.root / ".emtk3s" / "graph.json").read_text())
    assert graph["nodes"]["fixture-b"]["deps"] == ["fixture-a"]
    # fixture-a-devel came from the local repository into the chroot's rpm database
    deps_log = (p.root / ".emtk3s" / "logs" / "build-fixture-b.deps.log").read_text()
    assert "fixture-a-devel" in deps_log
    # the cached chroot is untouched: only the fixture's host-provides package in its rpm database
    assert not (root / "builddir").exists()
    installed = subprocess.run(["chroot", str(root), "rpm", "-qa"], capture_output=True, text=True)
    assert installed.stdout.split() == ["emtk3s-test-host-provides-1-1.noarch"]
    # a second run builds nothing
    again = p.run("--json", "chain", "--backend", "chroot", "--chroot", str(root)).json["result"]
    assert {e["status"] for e in again["packages"]} == {"up to date"}


def test_network_is_cut_inside_the_chroot(tmp_path: Path, upstream: Upstream, root: Path) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    port = srv.getsockname()[1]
    threading.Thread(target=lambda: srv.accept(), daemon=True).start()
    # the same command reaches the server from the host
    subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"], check=True)
    p = _project(tmp_path, upstream, "fixture-net", port=port)
    res = p.run(
        "chain", "-p", "fixture-net", "--backend", "chroot", "--chroot", str(root), check=False
    )
    assert res.code == 5, res.err
    log = (p.root / ".emtk3s" / "logs" / "build-fixture-net.log").read_text()
    assert "reached the network" not in log
    assert "Network is unreachable" in log or "Connection refused" in log or "Cannot assign" in log
    srv.close()


def test_missing_build_requires_are_listed(tmp_path: Path, upstream: Upstream, root: Path) -> None:
    p = _project(tmp_path, upstream, "fixture-b")
    res = p.run(
        "chain", "-p", "fixture-b", "--backend", "chroot", "--chroot", str(root), check=False
    )
    # the chroot lacks them: the environment code, as `build` says it
    assert res.code == 6
    assert "fixture-a-devel" in res.err


def test_failure_stops_dependents_only_with_keep_going(
    tmp_path: Path, upstream: Upstream, root: Path
) -> None:
    p = _project(tmp_path, upstream, "fixture-a", "fixture-b")
    spec = p.root / "SPECS" / "fixture-a" / "fixture-a.spec"
    spec.write_text(spec.read_text().replace("ar rcs libfixa.a fixa.o", "exit 1"))
    res = p.run(
        "--json", "chain", "--backend", "chroot", "--chroot", str(root), "--keep-going", check=False
    )
    assert res.code == 5
    doc = res.json
    assert doc["error"]["category"] == "build"
    status = {e["package"]: e["status"] for e in doc["result"]["packages"]}
    assert status == {"fixture-a": "failed", "fixture-b": "skipped", HELPERS: "built"}
    assert doc["result"]["failed"] == ["fixture-a"]
    a = next(e for e in doc["result"]["packages"] if e["package"] == "fixture-a")
    assert a["log"].endswith("build-fixture-a.log") and Path(a["log"]).is_file()


def test_cycle_is_reported_with_its_members(tmp_path: Path, upstream: Upstream) -> None:
    p = _project(tmp_path, upstream)
    for me, other in (("cyc-x", "cyc-y"), ("cyc-y", "cyc-x")):
        text = cpkgs.HEADER.format(name=me, summary="Cycle") + (
            f"BuildRequires: {other}\n\n%description\nx\n\n%prep\n\n%build\n\n%install\n"
            f"mkdir -p %{{buildroot}}/usr/share/{me}\ntouch %{{buildroot}}/usr/share/{me}/x\n\n"
            f"%files\n/usr/share/{me}/x\n"
        )
        cpkgs.write(p.root / "SPECS", me, spec_text=text)
    res = p.run("chain", "--backend", "rpmbuild", check=False)
    assert res.code == 2
    assert "build cycle: cyc-x -> cyc-y -> cyc-x" in res.err


def test_chroot_tarball_is_unpacked_once_and_cached_by_hash(
    tmp_path: Path, upstream: Upstream
) -> None:
    tarball = chroot.worker_chroot_tarball()
    p = _project(tmp_path, upstream)
    p.run("chain", "-p", HELPERS, "--backend", "chroot", "--chroot", str(tarball))
    unpacked = [d for d in (p.cache / "chroots").iterdir() if (d / ".complete").exists()]
    assert len(unpacked) == 1 and len(unpacked[0].name) == 64
    stamp = (unpacked[0] / ".complete").stat().st_mtime_ns
    p.run("chain", "-p", HELPERS, "--backend", "chroot", "--chroot", str(tarball), "--force")
    assert (unpacked[0] / ".complete").stat().st_mtime_ns == stamp
    assert not (unpacked[0] / "root" / "builddir").exists()


def test_all_with_the_chroot_backend(tmp_path: Path, upstream: Upstream, root: Path) -> None:
    p = make_project(tmp_path / "proj", upstream)
    p.write_release(packages=[HELPERS])
    res = p.run("--json", "all", "--backend", "chroot", "--chroot", str(root)).json["result"]
    builds = res["stages"]["build"]["builds"]
    assert [(b["package"], b["status"], b["backend"]) for b in builds] == [
        (HELPERS, "built", "chroot")
    ]
    again = p.run("--json", "all", "--backend", "chroot", "--chroot", str(root)).json["result"]
    assert again["stages"]["build"]["builds"][0]["status"] == "up to date"
