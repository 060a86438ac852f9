"""klipper-helm's image (k3s-addon-images' writer, the description %build uses) in a real
containerd: it imports under exactly the name the K3s tag's list gives; as upstream's user
(1000, HOME /home/klipper-helm from our passwd) bash, jq and busybox run, ``helm version``
runs and helm finds the two plugins in $HOME; the entry, run as the image's ENTRYPOINT with no
chart, ends as upstream's does with helm v3.16.4 (it records "Installing helm chart" in the
termination log, helm gets an empty chart argument and prints its usage: exit 0, which the
real Helm showed in test_addon_klipper_helm_real.py), and refuses Helm v2 with its own message
(exit 64). Upstream's own entry (from the k3s-io/klipper-helm snapshot, never committed) is run
the same way where the snapshot is present. Stand-in helm and plugins (seconds); the real
Helm is tests/integration/test_addon_klipper_helm_real.py."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from emtk3s.packages.k3s_addon_images import ociarchive as oci
from tests.fixtures import containerd as ctd
from tests.fixtures import klipper_helm_image as kh
from tests.integration.test_addon_images_containerd import ARCH

pytestmark = pytest.mark.skipif(bool(ctd.available()), reason=ctd.available() or "ok")

MIRROR = Path("/work/.mirror/k3s-io+klipper-helm/repo")
CA = Path("/etc/ssl/certs/ca-certificates.crt")


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ctd.Containerd]:
    if not ARCH:
        pytest.skip("no image architecture for this machine")
    c = ctd.Containerd(tmp_path_factory.mktemp("containerd")).start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def imported(containerd: ctd.Containerd, tmp_path_factory: pytest.TempPathFactory) -> Path:
    busybox = kh.busybox_static()
    if busybox is None or not CA.is_file():
        pytest.skip("a static busybox and a CA bundle are needed (apt-get install busybox-static)")
    base = tmp_path_factory.mktemp("klipper-helm")
    kh.stand_in_payloads(base)
    archive, _digest = kh.write(base, ARCH, busybox, CA)
    containerd.ctr("images", "import", str(archive))
    return archive


def run(c: ctd.Containerd, name: str, *args: str, env: tuple[str, ...] = (),
        binds: tuple[tuple[Path, str, str], ...] = ()) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """``ctr run --rm`` with env and bind mounts (src, dst, ro|rw); no check of the exit code."""
    flags = [f"--env={e}" for e in env]
    for src, dst, mode in binds:
        flags += ["--mount", f"type=bind,src={src},dst={dst},options=rbind:{mode}"]
    return c.ctr("run", "--fifo-dir", str(c.top / "fifo"), "--rm", *flags, kh.REFERENCE, name,
                 *args, check=False)  # fmt: skip


def test_imports_under_exactly_the_listed_name(containerd: ctd.Containerd, imported: Path) -> None:
    assert kh.REFERENCE == "docker.io/rancher/klipper-helm:v0.9.5-build20250306"
    assert kh.REFERENCE in containerd.images()
    listed = containerd.ctr("images", "list", f"name=={kh.REFERENCE}").stdout
    assert oci.manifest_digest(str(imported)) in listed


def test_as_upstreams_user_bash_jq_and_helm_run_and_helm_finds_its_plugins(
    containerd: ctd.Containerd, imported: Path
) -> None:
    script = ('id -u; id -g; echo "$HOME"; pwd; bash -c \'echo "bash ${BASH_VERSINFO[0]}"\'; '
              "echo '{\"a\":[1,2]}' | jq -c .a; helm version --short; helm plugin list")  # fmt: skip
    proc = run(containerd, "kh-user", "/bin/bash", "-c", script)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:4] == ["1000", "1000", "/home/klipper-helm", "/home/klipper-helm"]
    assert lines[4].startswith("bash ") and lines[5] == "[1,2]"
    assert lines[6] == "v3.16.4+g7877b45"
    assert {"set-status", "mapkubeapis"} <= set(lines[7:])


def _entry_without_chart(c: ctd.Containerd, tmp_path: Path, name: str,
                         binds: tuple[tuple[Path, str, str], ...] = ()) -> None:  # fmt: skip
    log = tmp_path / f"{name}.termination-log"
    log.write_text("")
    log.chmod(0o666)  # kubelet's file, written by the pod's user
    binds = (*binds, (log, "/dev/termination-log", "rw"))
    proc = run(c, name, "entry", binds=binds)
    # no chart: helm ls finds no release (no cluster here), so the entry installs: it records
    # that, and helm v3.16.4 answers the empty chart argument with its usage and exit 0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Error: " in proc.stderr  # helm ls
    assert proc.stdout.startswith("The Kubernetes package manager\n")
    assert log.read_text() == "Installing helm chart\n"
    log.write_text("")
    v2 = run(c, f"{name}-v2", "entry", env=("HELM_VERSION=v2",), binds=binds)
    assert v2.returncode == 64
    assert "Helm v2 is EOL effective 2020-11-13; upgrade your chart to helm v3" in v2.stdout
    assert log.read_text() == "Helm v2 is EOL effective 2020-11-13; upgrade your chart to helm v3\n"


def test_the_entry_without_a_chart_ends_as_upstreams_does(
    containerd: ctd.Containerd, imported: Path, tmp_path: Path
) -> None:
    _entry_without_chart(containerd, tmp_path, "kh-entry")


@pytest.mark.skipif(not MIRROR.is_dir(), reason="no k3s-io/klipper-helm snapshot here")
def test_upstreams_own_entry_ends_the_same_way(
    containerd: ctd.Containerd, imported: Path, tmp_path: Path
) -> None:
    real = tmp_path / "entry"
    real.write_bytes(subprocess.run(
        ["git", "--git-dir", str(MIRROR), "show", "v0.9.5-build20250306:entry"],
        capture_output=True, check=True).stdout)  # fmt: skip
    real.chmod(0o755)
    _entry_without_chart(containerd, tmp_path, "kh-upstream", ((real, "/usr/bin/entry", "ro"),))
