"""The addon image archives in a real containerd (Debian's), started by the test in a private
root with its own socket: every archive imports under exactly the name the tag's image list gives,
pause runs as its upstream user, busybox runs ``sh -c``, a coredns-shaped payload answers DNS on
:53 as non-root only thanks to the file capability in the layer (in the container's own network
namespace). Tiny payloads: the whole module runs in seconds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emtk3s.packages.k3s_addon_images import ociarchive as oci
from tests.fixtures import addon_payloads as payloads
from tests.fixtures import containerd as ctd
from tests.fixtures.addon_images import IMAGE_LIST_V1_32_4

pytestmark = pytest.mark.skipif(bool(ctd.available()), reason=ctd.available() or "ok")

EPOCH = 1745000000
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(__import__("platform").machine(), "")
DISTROLESS_PASSWD = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"  # fmt: skip
DISTROLESS_GROUP = "root:x:0:\nnonroot:x:65532:\n"


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ctd.Containerd]:
    if not ARCH:
        pytest.skip("no image architecture for this machine")
    c = ctd.Containerd(tmp_path_factory.mktemp("containerd")).start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def bins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("payloads")
    pause = payloads.compile_static(payloads.PAUSE_C, d / "pause")
    dns = payloads.compile_static(payloads.DNS_C, d / "dns")
    busybox = shutil.which("busybox")
    if pause is None or dns is None:
        pytest.skip("gcc with a static libc is needed for the test payloads")
    if (
        busybox is None
        or b"statically linked"
        not in subprocess.run(["file", "-L", busybox], capture_output=True).stdout
    ):
        pytest.skip("a static busybox is needed (apt-get install busybox-static)")
    return {"pause": pause, "dns": dns, "busybox": Path(busybox)}


def _image(ref: str, config: dict[str, object], entries: list[oci.Entry]) -> oci.Image:
    return oci.Image(ref, ARCH, EPOCH, config, entries)


def _pause(ref: str, bins: dict[str, Path]) -> oci.Image:
    # kubernetes build/pause/Dockerfile: FROM scratch, /pause, USER 65535:65535, ENTRYPOINT /pause
    data = bins["pause"].read_bytes()
    return _image(ref, {"User": "65535:65535", "Entrypoint": ["/pause"]},
                  [oci.Entry("pause", "file", 0o755, data=data)])  # fmt: skip


def _busybox(ref: str, bins: dict[str, Path]) -> oci.Image:
    data = bins["busybox"].read_bytes()
    entries = [oci.Entry("bin/busybox", "file", 0o755, data=data)]
    entries += [oci.Entry(f"bin/{a}", "symlink", 0o777, link="busybox") for a in ("sh", "id")]
    env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    return _image(ref, {"Cmd": ["sh"], "Env": env}, entries)


def _dns(ref: str, bins: dict[str, Path], capability: bool = True) -> oci.Image:
    # coredns' Dockerfile: distroless nonroot base, setcap cap_net_bind_service=+ep /coredns,
    # USER nonroot:nonroot, ENTRYPOINT ["/coredns"]
    xattrs = (
        (("security.capability", oci.capability_xattr(["cap_net_bind_service"], True)),)
        if capability
        else ()
    )
    entries = [
        oci.Entry("coredns", "file", 0o755, data=bins["dns"].read_bytes(), xattrs=xattrs),
        oci.Entry("etc/passwd", "file", 0o644, data=DISTROLESS_PASSWD.encode()),
        oci.Entry("etc/group", "file", 0o644, data=DISTROLESS_GROUP.encode()),
    ]
    config = {"User": "nonroot:nonroot", "Entrypoint": ["/coredns"], "WorkingDir": "/"}
    return _image(ref, config, entries)


def _shaped(ref: str, bins: dict[str, Path]) -> oci.Image:
    name = ref.rsplit("/", 1)[1].split(":")[0]
    if "pause" in name:
        return _pause(ref, bins)
    if "coredns" in name:
        return _dns(ref, bins)
    return _busybox(ref, bins)


@pytest.fixture(scope="module")
def imported(
    containerd: ctd.Containerd, bins: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("archives")
    archives = {}
    for ref in IMAGE_LIST_V1_32_4:
        path = out / (ref.rsplit("/", 1)[1].replace(":", "-") + f"-{ARCH}.tar")
        oci.write_archive(_shaped(ref, bins), str(path))
        containerd.ctr("images", "import", str(path))
        archives[ref] = path
    return archives


def test_every_archive_imports_under_exactly_the_listed_name(
    containerd: ctd.Containerd, imported: dict[str, Path]
) -> None:
    assert containerd.images() == sorted(IMAGE_LIST_V1_32_4)
    assert not [n for n in containerd.images() if "noname" in n or n.startswith("import-")]
    # what containerd stored is what the archive's index names
    for ref, path in imported.items():
        listed = containerd.ctr("images", "list", f"name=={ref}").stdout
        assert oci.manifest_digest(str(path)) in listed


def test_pause_runs_as_its_upstream_user(containerd: ctd.Containerd, imported: dict[str, Path]) -> None:  # fmt: skip
    ref = next(r for r in imported if "pause" in r)
    containerd.run(ref, "pause-t", detach=True)
    try:
        assert ctd.uid_gid(containerd.task_pid("pause-t")) == (65535, 65535)
    finally:
        containerd.kill("pause-t")


def test_busybox_runs_sh_c(containerd: ctd.Containerd, imported: dict[str, Path]) -> None:
    ref = next(r for r in imported if "busybox" in r)
    out = containerd.run(ref, "bb-t", "sh", "-c", "echo sum=$((40+2)); id -u").stdout
    assert out.split() == ["sum=42", "0"]


def _query_in_netns(pid: int) -> str:
    query = payloads.dns_query()
    proc = subprocess.run(
        ["nsenter", "-t", str(pid), "-n", sys.executable, "-c", payloads.QUERY_SCRIPT, query.hex()],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    reply = bytes.fromhex(proc.stdout.strip()) if proc.stdout.strip() else b""
    return payloads.parse_a_answer(reply) if reply else ""


def test_coredns_shaped_payload_answers_dns_on_53_as_non_root(
    containerd: ctd.Containerd, imported: dict[str, Path]
) -> None:
    ref = next(r for r in imported if "coredns" in r)
    containerd.run(ref, "dns-t", detach=True)
    try:
        pid = containerd.task_pid("dns-t")
        assert ctd.uid_gid(pid) == (65532, 65532)  # nonroot, from the image's /etc/passwd
        assert _query_in_netns(pid) == "10.0.0.53"
        # its own network namespace, not the host's
        assert Path(f"/proc/{pid}/ns/net").resolve() != Path("/proc/self/ns/net").resolve()
    finally:
        containerd.kill("dns-t")


def test_without_the_file_capability_the_same_payload_cannot_bind_53(
    containerd: ctd.Containerd, bins: dict[str, Path], tmp_path: Path
) -> None:
    ref = "docker.io/emtk3s-test/dns-nocap:1"
    path = tmp_path / "nocap.tar"
    oci.write_archive(_dns(ref, bins, capability=False), str(path))
    containerd.ctr("images", "import", str(path))
    try:
        proc = containerd.run(ref, "nocap-t", check=False)
        assert proc.returncode != 0
        assert "bind :53 as uid 65532: Permission denied" in proc.stderr + proc.stdout
    finally:
        containerd.ctr("images", "remove", ref, check=False)


def test_zstd_window_of_every_layer_is_at_most_2_25(imported: dict[str, Path]) -> None:
    import json
    import tarfile

    for path in imported.values():
        with tarfile.open(path) as tf:
            index = json.load(tf.extractfile("index.json"))  # type: ignore[arg-type]
            digest = index["manifests"][0]["digest"][7:]
            manifest = json.load(tf.extractfile(f"blobs/sha256/{digest}"))  # type: ignore[arg-type]
            for layer in manifest["layers"]:
                blob = tf.extractfile(f"blobs/sha256/{layer['digest'][7:]}").read()  # type: ignore[union-attr]
                assert oci.zstd_window(blob) <= 1 << 25
