"""k3s-addon-images through the pipeline: resolve reads the K3s tag's image list (cross-checked),
k3s-addon-pause is built from source (gcc, static) and k3s-addon-images' %build writes the
archives with our writer from the chain-built pause RPM; installed into a scratch root, the
archives sit read-only under /usr/share/k3s/images with the links K3s imports from
agent/images, and a real containerd imports each archive under the listed name and runs it.

The payloads this machine cannot build (coredns needs its vendor tarball from the module proxy;
busybox comes from k3s-root's buildroot build) are stand-in RPMs of the same names built here
by rpmbuild: a tiny static DNS server at the coredns path, the host's static busybox in a
k3s-root-<arch>.tar. The real coredns is tests/integration/test_addon_coredns_real.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from emtk3s.packages.k3s_addon_images import ociarchive
from tests.conftest import ProjectDir, make_project
from tests.fixtures import addon_images as fx
from tests.fixtures import addon_payloads as payloads
from tests.fixtures import containerd as ctd
from tests.integration.test_k3s import built as k3s_rpms  # noqa: F401 (fixture: the k3s RPM)

ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, "")
RPM_ARCH = os.uname().machine

pytestmark = pytest.mark.skipif(not ARCH, reason="no image architecture for this machine")

#: a stand-in RPM holding a directory (the helm plugins' trees)
STAND_IN_DIR_SPEC = """Name: {name}
Version: 0.0.1
Release: 1
Summary: stand-in payload for the k3s-addon-images test
License: MIT
%description
stand-in
%install
mkdir -p %{{buildroot}}{dir}
cp -pr {src}/. %{{buildroot}}{dir}/
%files
{dir}
"""

STAND_IN_SPEC = """Name: {name}
Version: 0.0.1
Release: 1
Summary: stand-in payload for the k3s-addon-images test
License: MIT
%description
stand-in
%install
mkdir -p %{{buildroot}}{dir}
cp -p {src} %{{buildroot}}{dir}/{file}
{more_install}
%files
{dir}/{file}
{more_files}
"""

#: stands in for traefik (k3s-addon-traefik needs its vendor tarball from the module proxy;
#: tests/integration/test_addon_traefik.py builds the payload from a stand-in Go module)
TRAEFIK_STAND_IN_C = '#include <stdio.h>\nint main(void) { puts("traefik stand-in"); return 0; }\n'


def _stand_in_rpm(work: Path, name: str, src: Path, dir_: str, file: str,
                  more: tuple[tuple[Path, str], ...] = ()) -> Path:  # fmt: skip
    spec = work / f"{name}.spec"
    if src.is_dir():
        spec.write_text(STAND_IN_DIR_SPEC.format(name=name, src=src, dir=dir_))
    else:
        spec.write_text(STAND_IN_SPEC.format(
            name=name, src=src, dir=dir_, file=file,
            more_install="\n".join(f"cp -p {s} %{{buildroot}}{dir_}/{f}" for s, f in more),
            more_files="\n".join(f"{dir_}/{f}" for _s, f in more),
        ))  # fmt: skip
    top = work / f"top-{name}"
    subprocess.run(
        ["rpmbuild", "-bb", "--nodeps", "--define", f"_topdir {top}",
         "--define", "__brp_strip %{nil}", "--define", "debug_package %{nil}", str(spec)],
        check=True, capture_output=True,
    )  # fmt: skip
    return next((top / "RPMS").rglob(f"{name}-*.rpm"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, upstream: object) -> Iterator[ProjectDir]:
    work = tmp_path_factory.mktemp("addon-payloads")
    dns = payloads.compile_static(payloads.DNS_C, work / "dns")
    # metrics-server needs its vendor tarball too: a static program that stays up stands in
    metrics = payloads.compile_static(payloads.PAUSE_C, work / "metrics-server")
    lpp = payloads.compile_static(payloads.PAUSE_C, work / "local-path-provisioner")
    traefik = payloads.compile_static(TRAEFIK_STAND_IN_C, work / "traefik")
    busybox = shutil.which("busybox")
    if dns is None or metrics is None or lpp is None or traefik is None or busybox is None:
        pytest.skip("gcc with a static libc and a static busybox are needed")
    # k3s-root-dist's layout: /usr/share/k3s-root/k3s-root-<arch>.tar holding ./bin/busybox
    tree = work / "k3s-root"
    (tree / "bin" / "aux").mkdir(parents=True)
    shutil.copy(busybox, tree / "bin" / "busybox")
    # k3s-root's xtables multi-call binaries (built by buildroot): stand-ins that say how they
    # were called, so the test sees what klipper-lb's entry asks of iptables
    for mode in ("legacy", "nft"):
        stub = tree / "bin" / "aux" / f"xtables-{mode}-multi"
        stub.write_text(f'#!/bin/sh\necho "xtables-{mode}-multi $(basename "$0") $*"\n')
        stub.chmod(0o755)
    with tarfile.open(work / f"k3s-root-{ARCH}.tar", "w") as tf:
        tf.add(tree / "bin", arcname="./bin")
    # helm and the two plugins need their vendor tarballs too: the shell stand-ins of the
    # klipper-helm containerd test, in the layout their RPMs install
    from tests.fixtures import klipper_helm_image as kh

    kh.stand_in_payloads(work / "kh")
    p = make_project(tmp_path_factory.mktemp("addons") / "proj", upstream)  # type: ignore[arg-type]
    rpms = p.root / "RPMS" / RPM_ARCH
    rpms.mkdir(parents=True)
    for name, src, dir_, file in (
        ("k3s-addon-coredns", dns, "/usr/lib/k3s-addons/coredns", "coredns"),
        ("k3s-addon-metrics-server", metrics, "/usr/lib/k3s-addons/metrics-server", "metrics-server"),
        ("k3s-addon-local-path-provisioner", lpp, "/usr/lib/k3s-addons/local-path-provisioner",
         "local-path-provisioner"),
        ("k3s-root-dist", work / f"k3s-root-{ARCH}.tar", "/usr/share/k3s-root", f"k3s-root-{ARCH}.tar"),
        ("k3s-addon-helm", work / "kh/payload/helm/helm", "/usr/lib/k3s-addons/helm", "helm"),
        ("k3s-addon-helm-set-status", work / "kh/payload/helm-set-status",
         "/usr/lib/k3s-addons/helm-set-status", ""),
        ("k3s-addon-helm-mapkubeapis", work / "kh/payload/helm-mapkubeapis",
         "/usr/lib/k3s-addons/helm-mapkubeapis", ""),
    ):  # fmt: skip
        shutil.copy(_stand_in_rpm(work, name, src, dir_, file), rpms)
    entrypoint = work / "entrypoint.sh"
    entrypoint.write_text(fx.TRAEFIK_ENTRYPOINT)
    entrypoint.chmod(0o755)
    shutil.copy(_stand_in_rpm(work, "k3s-addon-traefik", traefik, "/usr/lib/k3s-addons/traefik",
                              "traefik", ((entrypoint, "entrypoint.sh"),)), rpms)  # fmt: skip
    p.write_release(
        packages=[
            "k3s-addon-pause",
            "k3s-addon-klipper-lb",
            "k3s-addon-klipper-helm",
            "k3s-addon-images",
        ],
        arches=[RPM_ARCH],
    )
    p.run("all", "--nodeps", timeout=1200)
    yield p


def _extract(rpm_file: Path, root: Path) -> None:
    cpio = subprocess.run(["rpm2cpio", str(rpm_file)], capture_output=True, check=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=cpio, cwd=root, check=True)


def test_the_lock_records_the_image_list_and_each_dockerfile(built: ProjectDir) -> None:
    lock = json.loads((built.root / "emtk3s.lock").read_text())
    images = lock["components"]["k3s-images"]["facts"]["images"]
    assert sorted(i["_reference"] for i in images.values()) == list(fx.image_list())
    pause = lock["components"]["kubernetes-pause"]
    assert pause["tag"] == fx.PAUSE_K8S_TAG and pause["facts"]["pause_tag"] == "3.6"
    assert json.loads(pause["facts"]["image"]["_config"]) == {
        "Entrypoint": ["/pause"],
        "User": "65535:65535",
    }
    coredns = lock["components"]["coredns"]
    assert coredns["commit"] and coredns["tag"] == fx.COREDNS_TAG
    assert json.loads(coredns["facts"]["image"]["_capabilities"]) == {
        "/coredns": {"caps": ["cap_net_bind_service"], "effective": True}
    }


@pytest.fixture(scope="module")
def image_root(built: ProjectDir, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("image-root")
    rpms = built.root / "RPMS" / RPM_ARCH
    (rpm_file,) = rpms.glob("k3s-addon-images-*.rpm")
    _extract(rpm_file, root)
    return root


def test_installed_read_only_with_agent_image_links_and_sboms(image_root: Path) -> None:
    images = image_root / "usr/share/k3s/images"
    archives = sorted(images.glob("*.tar"))
    assert [a.name for a in archives] == [
        f"klipper-helm_{fx.FIXTURE_HELM_JOB}-{ARCH}.tar",
        f"klipper-lb_v0.4.13-{ARCH}.tar",
        f"local-path-provisioner_v0.0.31-{ARCH}.tar",
        f"mirrored-coredns-coredns_1.12.1-{ARCH}.tar",
        f"mirrored-library-busybox_1.36.1-{ARCH}.tar",
        f"mirrored-library-traefik_3.3.6-{ARCH}.tar",
        f"mirrored-metrics-server_v0.7.2-{ARCH}.tar",
        f"mirrored-pause_3.6-{ARCH}.tar",
    ]
    assert all(a.stat().st_mode & 0o777 == 0o444 for a in archives)
    agent = image_root / "var/lib/rancher/k3s/agent/images"
    for a in archives:
        assert os.readlink(agent / a.name) == f"/usr/share/k3s/images/{a.name}"
    conf = (image_root / "usr/lib/tmpfiles.d/k3s-addon-images.conf").read_text().splitlines()
    assert sorted(conf) == sorted(
        f"L /var/lib/rancher/k3s/agent/images/{a.name} - - - - /usr/share/k3s/images/{a.name}"
        for a in archives
    )
    for a in archives:
        sbom = json.loads((image_root / "usr/share/k3s/sbom" / (a.stem + ".spdx.json")).read_text())
        assert sbom["packages"][0]["versionInfo"] == ociarchive.manifest_digest(str(a))
    # traefik's SBOM says what differs from upstream's image: no dashboard web assets
    sbom = json.loads((image_root / f"usr/share/k3s/sbom/mirrored-library-traefik_3.3.6-{ARCH}.spdx.json").read_text())  # fmt: skip
    assert "WITHOUT the dashboard's web assets" in sbom["packages"][1]["comment"]
    assert sbom["packages"][1]["sourceInfo"].startswith("traefik/traefik-library-image v3.3.6")


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ctd.Containerd]:
    if ctd.available():
        pytest.skip(ctd.available())
    c = ctd.Containerd(tmp_path_factory.mktemp("containerd")).start()
    yield c
    c.stop()


def test_containerd_imports_them_as_listed_and_runs_them(
    image_root: Path, containerd: ctd.Containerd
) -> None:
    # what K3s does at start: import every archive agent/images links to
    agent = image_root / "var/lib/rancher/k3s/agent/images"
    for link in sorted(agent.iterdir()):
        containerd.ctr("images", "import", str(image_root / os.readlink(link).lstrip("/")))
    built_here = ("pause", "coredns", "busybox", "klipper-lb", "klipper-helm", "metrics-server",
                  "local-path", "traefik")  # fmt: skip
    listed = [r for r in fx.image_list() if any(f"/{k}" in r or f"-{k}" in r for k in built_here)]
    assert containerd.images() == sorted(listed)
    pause = next(r for r in listed if "pause" in r)
    version = containerd.run(pause, "pause-v", "/pause", "-v").stdout
    assert version.strip() == "pause.c v3.6"  # built from source with the listed version
    containerd.run(pause, "pause-up", detach=True)
    try:
        assert ctd.uid_gid(containerd.task_pid("pause-up")) == (65535, 65535)
    finally:
        containerd.kill("pause-up")
    metrics = next(r for r in listed if "metrics-server" in r)
    containerd.run(metrics, "metrics", detach=True)
    try:  # USER 65534 from its Dockerfile, nobody in the distroless-shaped passwd
        assert ctd.uid_gid(containerd.task_pid("metrics")) == (65534, 65534)
    finally:
        containerd.kill("metrics")
    lpp = next(r for r in listed if "local-path-provisioner" in r)
    # CMD local-path-provisioner found on PATH in our busybox userland; ENV ARCH for this arch
    out = containerd.run(lpp, "lpp", "sh", "-c", "command -v local-path-provisioner; echo $ARCH")
    assert out.stdout.split() == ["/usr/bin/local-path-provisioner", ARCH]
    traefik = next(r for r in listed if "traefik" in r)
    # upstream's entrypoint.sh (its behaviour, tests/data/traefik) in our busybox userland runs
    # the payload where upstream's Dockerfile unpacks its prebuilt binary
    out = containerd.run(traefik, "traefik", "/entrypoint.sh", "version")
    assert out.stdout.strip() == "traefik stand-in"
    busybox = next(r for r in listed if "busybox" in r)
    assert containerd.run(busybox, "bb", "sh", "-c", "echo $((6*7))").stdout.strip() == "42"
    # klipper-helm: the entry built from its tag, as uid 1000 with bash and jq from this host's
    # packages; with no chart it ends as upstream's does (helm's usage for the empty chart)
    helm_job = next(r for r in listed if "/klipper-helm:" in r)
    out = containerd.run(helm_job, "kh", "/bin/bash", "-c",
                         "id -u; echo '[7]' | jq '.[0]'; helm version --short").stdout  # fmt: skip
    assert out.split() == ["1000", "7", "v3.16.4+g7877b45"]
    log = image_root.parent / "kh-termination-log"  # kubelet's file, written by the pod's user
    log.write_text("")
    log.chmod(0o666)
    job = containerd.ctr("run", "--fifo-dir", str(containerd.top / "fifo"), "--rm", "--mount",
                         f"type=bind,src={log},dst=/dev/termination-log,options=rbind:rw",
                         helm_job, "kh-entry", "entry", check=False)  # fmt: skip
    assert job.returncode == 0 and job.stdout.startswith("The Kubernetes package manager")
    assert log.read_text() == "Installing helm chart\n"
    coredns = next(r for r in listed if "coredns" in r)
    containerd.run(coredns, "dns", detach=True)
    try:
        pid = containerd.task_pid("dns")
        assert ctd.uid_gid(pid) == (65532, 65532)
        from tests.integration.test_addon_images_containerd import _query_in_netns

        assert _query_in_netns(pid) == "10.0.0.53"
    finally:
        containerd.kill("dns")


def test_emt_integrate_lists_the_images_package_only_with_its_payloads(
    built: ProjectDir, tmp_path: Path
) -> None:
    from emtk3s import catalog
    from tests.fixtures import emt_checkout

    # a run-time package: k3s-addon-images goes in packagelists/k3s.json beside k3s; its
    # payload packages are build inputs only
    runtime = catalog.load().runtime_packages()
    assert "k3s" in runtime and "k3s-addon-images" in runtime
    assert not [p for p in runtime if p.startswith("k3s-addon-") and p != "k3s-addon-images"]
    emt = emt_checkout.make(tmp_path / "emt")
    # this project integrates the images without the payloads whose vendor tarballs (and
    # k3s-root's build) it has not: integrate refuses it, naming each missing provider
    res = built.run("--json", "emt", "integrate", "--emt-repo", str(emt), check=False)
    assert res.code == 9, res.err[-3000:]
    refusal = next(
        line for line in res.err.splitlines() if "k3s-addon-images" in line and "refused" in line
    )
    for provider in ("k3s-addon-coredns", "k3s-addon-local-path-provisioner",
                     "k3s-addon-metrics-server", "k3s-root-dist", "k3s-addon-helm",
                     "k3s-addon-helm-set-status", "k3s-addon-helm-mapkubeapis",
                     "k3s-addon-traefik"):  # fmt: skip
        assert provider in refusal
    # the payloads it has go in; the package list stays unchanged by build-only packages
    before = json.loads((emt / "toolkit/imageconfigs/packagelists/k3s.json").read_text())
    ok = built.run("emt", "integrate", "--emt-repo", str(emt), "-p", "k3s-addon-pause",
                   "-p", "k3s-addon-klipper-lb", "-p", "k3s-addon-klipper-helm", check=False)  # fmt: skip
    assert ok.code == 0, ok.err[-3000:]
    assert (emt / "SPECS/k3s-addon-pause/k3s-addon-pause.spec").is_file()
    after = json.loads((emt / "toolkit/imageconfigs/packagelists/k3s.json").read_text())
    assert after["packages"] == before["packages"]


def test_k3s_and_the_images_installed_together_give_the_links_k3s_imports(
    built: ProjectDir,
    k3s_rpms: dict[str, Path],  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (images_rpm,) = (built.root / "RPMS" / RPM_ARCH).glob("k3s-addon-images-*.rpm")
    subprocess.run(["rpm", "--root", str(root), "--initdb"], check=True)
    inst = subprocess.run(
        ["rpm", "--root", str(root), "-i", "--nodeps", "--noscripts",
         str(k3s_rpms["main"]), str(images_rpm)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert inst.returncode == 0, inst.stderr
    agent = root / "var/lib/rancher/k3s/agent/images"
    names = sorted(p.name for p in (root / "usr/share/k3s/images").glob("*.tar"))
    for n in names:
        assert (root / os.readlink(agent / n).lstrip("/")).is_file()
    # /var is mutable state: after a reset, systemd-tmpfiles at boot (the package's tmpfiles.d
    # lines, applied here with --root) links the archives again
    tmpfiles = shutil.which("systemd-tmpfiles")
    if tmpfiles is not None:
        for n in names:
            (agent / n).unlink()
        made = subprocess.run(
            [tmpfiles, f"--root={root}", "--create", "k3s-addon-images.conf"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        assert sorted(p.name for p in agent.iterdir()) == names
        for n in names:
            assert os.readlink(agent / n) == f"/usr/share/k3s/images/{n}"
            assert (root / "usr/share/k3s/images" / n).is_file()
    # and so does the install wrapper the cluster bootstrap runs (k3s' /usr/share/k3s/install.sh)
    for n in names:
        (agent / n).unlink()
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("a static busybox is needed to run the wrapper in the scratch root")
    (root / "bin").mkdir()
    shutil.copy(busybox, root / "bin" / "busybox")
    for applet in ("sh", "mkdir", "ln", "[", "echo"):
        os.symlink("busybox", root / "bin" / applet)
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    run = subprocess.run(
        [chroot, str(root), "/bin/sh", "/usr/share/k3s/install.sh"],
        capture_output=True, text=True, env={"PATH": "/bin"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "skip=true" in run.stdout  # the fixture's upstream install.sh ran after the links
    assert sorted(p.name for p in agent.iterdir()) == names
    for n in names:
        assert os.readlink(agent / n) == f"/usr/share/k3s/images/{n}"


def test_klipper_lb_entry_detects_iptables_mode_in_its_network_namespace(
    image_root: Path, containerd: ctd.Containerd, tmp_path: Path
) -> None:
    ref = next(r for r in fx.image_list() if "/klipper-lb:" in r)
    archive = next((image_root / "usr/share/k3s/images").glob("klipper-lb_*.tar"))
    containerd.ctr("images", "import", str(archive))
    log = tmp_path / "entry.log"
    env = {"SRC_PORT": "8080", "DEST_PROTO": "TCP", "DEST_PORT": "80",
           "SRC_RANGES": "10.0.0.0/8,fd00::/8", "DEST_IPS": "10.43.0.10"}  # fmt: skip
    containerd.ctr(
        "run", "--detach", "--log-uri", f"file://{log}", "--cap-add", "CAP_NET_ADMIN",
        *[a for k, v in env.items() for a in ("--env", f"{k}={v}")], ref, "klipper-lb",
    )  # fmt: skip
    try:
        pid = containerd.task_pid("klipper-lb")
        assert Path(f"/proc/{pid}/ns/net").resolve() != Path("/proc/self/ns/net").resolve()
        # busybox lsmod reads /proc/modules (absent on a kernel without modules: legacy)
        modules = Path("/proc/modules")
        host_nft = modules.exists() and "nf_tables" in modules.read_text()
        mode = "nft" if host_nft else "legacy"
        last = f"xtables-{mode}-multi ip6tables -t filter -I FORWARD -s fd00::/8"
        for _ in range(100):  # the entry ends by blocking on its FIFO; wait for its output
            text = log.read_text() if log.exists() else ""
            # the last rule's output line, not a count of "-I FORWARD": set -x traces each
            # command before it runs, so a count can be reached with that line still to come
            if last in text:
                break
            __import__("time").sleep(0.1)
        assert f"[INFO]  {mode} mode detected" in text
        # iptables and ip6tables run through the detected mode's multi-call binary
        assert f"xtables-{mode}-multi iptables -t filter -I FORWARD -s 10.0.0.0/8" in text
        assert f"xtables-{mode}-multi ip6tables -t filter -I FORWARD -s fd00::/8" in text
        # the pod's own namespace does not forward: no DNAT is set up
        assert (
            "DNAT" not in text.replace("+ ", "").split("ip_forward")[-1] or "PREROUTING" not in text
        )
        links = Path(f"/proc/{pid}/root/usr/sbin")
        assert os.readlink(links / "iptables") == f"xtables-{mode}-multi"
    finally:
        containerd.kill("klipper-lb")


def test_pinned_manifest_digests_are_checked_by_the_rebuild(
    built: ProjectDir, tmp_path: Path
) -> None:
    """pin-images records each archive's manifest digest from the built RPM in the lock; the
    re-rendered spec's %check passes a rebuild with the same bytes and fails rpmbuild, naming
    the image, when the lock pins another digest. Before the pin, the build says UNPINNED."""
    first_log = (built.root / ".emtk3s/logs/build-k3s-addon-images.log").read_text()
    assert "docker.io/rancher/mirrored-pause:3.6 (" + ARCH + "): manifest sha256:" in first_log
    assert "is UNPINNED in emtk3s.lock" in first_log
    # a copy of the built project (RPMS/ included): the module's other tests keep theirs
    p = ProjectDir(tmp_path / "proj", built.cache, built.upstream)
    shutil.copytree(built.root, p.root, symlinks=True)
    (rpm_file,) = (p.root / "RPMS" / RPM_ARCH).glob("k3s-addon-images-*.rpm")
    root = tmp_path / "unpacked"
    root.mkdir()
    _extract(rpm_file, root)
    want = {}
    for archive in sorted((root / "usr/share/k3s/images").glob("*.tar")):
        index = json.loads(tarfile.open(archive).extractfile("index.json").read())  # type: ignore[union-attr]
        ref = index["manifests"][0]["annotations"]["io.containerd.image.name"]
        want[ref] = {ARCH: ociarchive.manifest_digest(str(archive))}
    assert sorted(want) == sorted(fx.image_list())  # every listed image, built
    res = p.run("--json", "pin-images")
    assert res.json["result"]["digests"] == want
    lock = json.loads((p.root / "emtk3s.lock").read_text())
    assert lock["packages"]["k3s-addon-images"]["image_digests"] == want
    # the same again changes nothing
    assert p.run("--json", "pin-images").json["result"]["lock_changed"] is False
    # resolve, asking upstream again, keeps them: the same tag, commit and image list
    p.run("resolve", "--refresh")
    assert (
        json.loads((p.root / "emtk3s.lock").read_text())["packages"]["k3s-addon-images"][
            "image_digests"
        ]
        == want
    )
    p.run("render", "-p", "k3s-addon-images")
    spec = (p.root / "SPECS/k3s-addon-images/k3s-addon-images.spec").read_text()
    pause_ref = "docker.io/rancher/mirrored-pause:3.6"
    assert f'test "$(cat pause.digest)" = "{want[pause_ref][ARCH]}"' in spec
    p.run("all", "-p", "k3s-addon-images", "--nodeps", timeout=1200)
    log = (p.root / ".emtk3s/logs/build-k3s-addon-images.log").read_text()
    assert f"{pause_ref} ({ARCH}): manifest" not in log.replace("UNPINNED", "")  # all pinned
    assert "UNPINNED" not in log
    # another digest in the lock fails the rebuild, naming the image
    other = "sha256:" + "0" * 64
    lock["packages"]["k3s-addon-images"]["image_digests"][pause_ref][ARCH] = other
    (p.root / "emtk3s.lock").write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    p.run("render", "-p", "k3s-addon-images")
    bad = p.run("all", "-p", "k3s-addon-images", "--nodeps", check=False, timeout=1200)
    assert bad.code != 0
    log = (p.root / ".emtk3s/logs/build-k3s-addon-images.log").read_text()
    assert (
        f"k3s-addon-images: {pause_ref} ({ARCH}): manifest {want[pause_ref][ARCH]}, "
        f"but emtk3s.lock pins {other}"
    ) in log
    # and pin-images refuses to overwrite a pin with another digest unless --repin
    refused = p.run("--json", "pin-images", "--rpm", str(rpm_file), check=False)
    assert refused.code == 3 and pause_ref in refused.json["error"]["message"]
    p.run("pin-images", "--rpm", str(rpm_file), "--repin")
    lock = json.loads((p.root / "emtk3s.lock").read_text())
    assert lock["packages"]["k3s-addon-images"]["image_digests"] == want


def test_default_release_refuses_a_tag_listing_an_image_it_cannot_build(
    upstream: object, tmp_path: Path
) -> None:
    """The addon packages are in the default release: a K3s tag whose image list names an
    image emtk3s cannot build from source stops resolve with one line naming the image and
    the file (exit 2), and no lock is written."""
    from tests.fixtures import k3s_release, k3s_tree

    tag = "v1.32.9+k3s1"
    files = k3s_tree.k3s_files()
    listed = files["scripts/airgap/image-list.txt"]
    files["scripts/airgap/image-list.txt"] = f"{listed}docker.io/rancher/mirrored-unknown:1.0\n"
    upstream.commit_tag(  # type: ignore[attr-defined]
        "k3s-io/k3s",
        files,
        tag,
        k3s_release.K3S_TIME + 86400,
        modes=k3s_tree.MODES,
    )
    p = make_project(tmp_path / "proj", upstream)  # type: ignore[arg-type]
    p.write_release(k3s=tag)  # the default release: every default package
    res = p.run("resolve", check=False)
    assert res.code == 2, res.err
    (line,) = [x for x in res.err.splitlines() if x.startswith("emtk3s resolve: error:")]
    assert f"{tag}:scripts/airgap/image-list.txt" in line
    assert "docker.io/rancher/mirrored-unknown:1.0 cannot be built from source" in line
    assert "Traceback" not in res.err
    assert not (p.root / "emtk3s.lock").exists()
