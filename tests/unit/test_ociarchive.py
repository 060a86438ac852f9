"""The deterministic OCI archive writer (k3s-addon-images): same input, same bytes; the layer tar
as containerd reads it (order, ids, modes, mtimes, capability xattrs); zstd's window."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from emtk3s.packages.k3s_addon_images import ociarchive as oci

pytestmark = pytest.mark.skipif(shutil.which("zstd") is None, reason="zstd is not installed")

WRITER = Path(oci.__file__)


def _desc(tmp: Path, payload: bytes = b"\x7fELF-not-really" * 100) -> Path:
    (tmp / "coredns").write_bytes(payload)
    desc = {
        "reference": "docker.io/rancher/mirrored-coredns-coredns:1.12.1",
        "architecture": "amd64",
        "created": 1700000000,
        "config": {"User": "65532:65532", "Entrypoint": ["/coredns"], "WorkingDir": "/"},
        "files": [
            {"path": "etc/ssl/certs/ca-certificates.crt", "text": "certs\n"},
            {"path": "coredns", "source": "coredns", "mode": "0755",
             "capabilities": ["cap_net_bind_service"], "effective": True},
            {"path": "tmp", "dir": True, "mode": "1777"},
            {"path": "bin/sh", "link": "/coredns"},
            {"path": "a" * 60 + "/" + "b" * 60, "text": "long name\n"},
        ],
    }  # fmt: skip
    path = tmp / "image.json"
    path.write_text(json.dumps(desc))
    return path


def _run(desc: Path, out: Path, threads: str = "0") -> str:
    proc = subprocess.run(
        [sys.executable, str(WRITER), str(desc), str(out)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "OCIARCHIVE_THREADS": threads},
        check=True,
    )
    return proc.stdout.strip()


def _blobs(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tf:
        return {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_two_builds_give_identical_bytes_whatever_the_thread_count(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    d1, d2 = _desc(tmp_path / "one"), _desc(tmp_path / "two")
    (tmp_path / "two" / "coredns").touch()  # another mtime: must not matter
    digest1 = _run(d1, tmp_path / "1.tar", "1")
    digest2 = _run(d2, tmp_path / "2.tar", "2")
    assert (tmp_path / "1.tar").read_bytes() == (tmp_path / "2.tar").read_bytes()
    assert digest1 == digest2 and digest1.startswith("sha256:")
    assert oci.manifest_digest(str(tmp_path / "1.tar")) == digest1
    # another payload is another digest (the test can fail)
    (tmp_path / "three").mkdir()
    d3 = _desc(tmp_path / "three", b"other")
    assert _run(d3, tmp_path / "3.tar") != digest1


def test_layout_annotation_config_and_layer(tmp_path: Path) -> None:
    digest = _run(_desc(tmp_path), tmp_path / "img.tar")
    files = _blobs(tmp_path / "img.tar")
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    (desc,) = index["manifests"]
    assert desc["annotations"][oci.ANNOTATION_NAME] == (
        "docker.io/rancher/mirrored-coredns-coredns:1.12.1"
    )
    assert desc["digest"] == digest
    manifest_raw = files["blobs/sha256/" + digest.removeprefix("sha256:")]
    assert hashlib.sha256(manifest_raw).hexdigest() == digest.removeprefix("sha256:")
    manifest = json.loads(manifest_raw)
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"][7:]])
    assert config["config"] == {
        "User": "65532:65532",
        "Entrypoint": ["/coredns"],
        "WorkingDir": "/",
    }
    assert config["architecture"] == "amd64" and config["os"] == "linux"
    (layer_desc,) = manifest["layers"]
    assert layer_desc["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"
    blob = files["blobs/sha256/" + layer_desc["digest"][7:]]
    assert 0 < oci.zstd_window(blob) <= 1 << 25
    layer = subprocess.run(
        ["zstd", "-d", "-c", "--long=25"], input=blob, capture_output=True, check=True
    ).stdout
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer).hexdigest()]
    with tarfile.open(fileobj=io.BytesIO(layer)) as tf:
        members = tf.getmembers()
    names = [m.name for m in members]
    # parents first, sorted, every parent present
    assert names == [
        "a" * 60,
        "a" * 60 + "/" + "b" * 60,
        "bin",
        "bin/sh",
        "coredns",
        "etc",
        "etc/ssl",
        "etc/ssl/certs",
        "etc/ssl/certs/ca-certificates.crt",
        "tmp",
    ]
    by = {m.name: m for m in members}
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {
        (0, 0, "", "", 1700000000)
    }
    assert by["coredns"].mode == 0o755 and by["tmp"].mode == 0o1777
    assert by["etc"].isdir() and by["bin/sh"].issym() and by["bin/sh"].linkname == "/coredns"
    # setcap cap_net_bind_service=+ep: vfs_cap_data revision 2, effective, bit 10 permitted
    cap = by["coredns"].pax_headers["SCHILY.xattr.security.capability"]
    raw = cap.encode("utf-8", "surrogateescape")
    assert struct.unpack("<5I", raw) == (0x02000001, 1 << 10, 0, 0, 0)


def test_zstd_window_is_capped_for_large_layers(tmp_path: Path) -> None:
    # incompressible 40 MiB: without --long=25 level 19 would ask for a 2^23 window at most,
    # but the check must hold for what the writer emits at any size
    import os

    blob = oci.zstd_compress(os.urandom(1 << 20) * 40)
    assert oci.zstd_window(blob) <= 1 << 25


@pytest.mark.parametrize(
    "change, message",
    [
        ({"reference": "mirrored-pause:3.6"}, "registry/repository:tag"),
        ({"files": [{"path": "../etc/passwd", "text": "x"}]}, "bad path"),
        ({"files": [{"path": "x", "text": "x", "mode": "755x"}]}, "mode"),
        ({"files": [{"path": "x", "text": "", "capabilities": ["cap_everything"]}]}, "capability"),
        ({"files": [{"path": "x", "text": ""}, {"path": "x/y", "text": ""}]}, "not a directory"),
    ],
)
def test_bad_descriptions_are_one_line_errors_and_write_nothing(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    desc = json.loads(_desc(tmp_path).read_text())
    desc.update(change)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(desc))
    proc = subprocess.run(
        [sys.executable, str(WRITER), str(path), str(tmp_path / "out.tar")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.tar").exists()
    assert not list(tmp_path.glob(".ociarchive-*"))
