#!/usr/bin/env python3
"""A deterministic OCI image archive writer, standard library only.

It runs inside an RPM build (the k3s-addon-images %build calls it as a script, a Source of its
own) and in emtk3s' tests, so it imports nothing beyond Python's standard library; compression
is the ``zstd`` command line tool.

One image = one layer. The layer is a tar written here byte by byte (not by :mod:`tarfile`, whose
output changed across Python versions): entries sorted by path, parents first, every mtime the
image's ``created`` epoch, uid/gid numeric without names, modes as given, file capabilities as a
``SCHILY.xattr.security.capability`` PAX record (what containerd applies when it unpacks a layer).
The layer is compressed with ``zstd -12 --long=25 -T<n>``: zstd's multi-threaded output does not
depend on the number of threads, and ``--long=25`` caps the window at 2^25 bytes, the most K3s'
and containerd's decoders accept. The archive (an OCI image layout in a plain tar) carries the
exact reference in the ``io.containerd.image.name`` annotation, which ``ctr images import`` and
K3s use as the image's name.

Description (JSON)::

    {"reference": "docker.io/rancher/mirrored-pause:3.6", "architecture": "amd64",
     "created": 1700000000,
     "config": {"User": "65535:65535", "Entrypoint": ["/pause"], "Env": [...], "WorkingDir": "/"},
     "files": [{"path": "pause", "source": "/abs/pause", "mode": "0755"},
               {"path": "bin/sh", "link": "busybox"},
               {"path": "etc/passwd", "lines": ["root:x:0:0:root:/root:/sbin/nologin"]},
               {"path": "coredns", "source": "...", "mode": "0755",
                "capabilities": ["cap_net_bind_service"], "effective": true},
               {"path": "tmp", "dir": true, "mode": "1777"},
               {"path": "usr/share/zoneinfo", "tree": "/usr/share/zoneinfo"},
               {"path": "", "tree": "payload/klipper-helm-userland", "uid": 0}]}

A ``tree`` item is a directory of the build host copied whole (the time zone data of its
``tzdata`` package; bash, jq and the libraries they load, put together by ``elfclosure.py``):
every entry below it, owned by the item's ``uid``/``gid`` (root by default), directories 0755,
files 0644 (0755 when executable), symbolic links as they are; nothing of the host's ownership
or times. With ``path`` "" its content lands at the image's root.

Usage: ``ociarchive.py DESCRIPTION.json OUT.tar`` (writes OUT.tar by rename: never half-written);
``ociarchive.py --digest ARCHIVE.tar`` prints the manifest digest of an archive.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

ANNOTATION_NAME = "io.containerd.image.name"
ANNOTATION_REF = "org.opencontainers.image.ref.name"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
ZSTD_LEVEL = 12  # coredns (75 MB): 12 s at -12 vs 147 s at -19 for 18.0 vs 15.9 MB
ZSTD_WINDOW_LOG = 25  # K3s and containerd decode zstd windows of at most 2^25 bytes

#: capability numbers (linux/capability.h) of the names an image may set on a file
CAPABILITIES = {
    "cap_chown": 0,
    "cap_dac_override": 1,
    "cap_fowner": 3,
    "cap_kill": 5,
    "cap_setgid": 6,
    "cap_setuid": 7,
    "cap_net_bind_service": 10,
    "cap_net_broadcast": 11,
    "cap_net_admin": 12,
    "cap_net_raw": 13,
    "cap_sys_chroot": 18,
    "cap_sys_admin": 21,
}
VFS_CAP_REVISION_2 = 0x02000000
VFS_CAP_FLAGS_EFFECTIVE = 0x000001

_PATH = re.compile(r"[A-Za-z0-9_.+@[-][A-Za-z0-9_.+@/[-]*")  # busybox links /bin/[
_REFERENCE = re.compile(r"[a-z0-9.-]+(?::[0-9]+)?/[a-z0-9._/-]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class ImageError(ValueError):
    """A description the writer refuses (the message names the field)."""


@dataclass(frozen=True)
class Entry:
    path: str  # relative, no leading slash, no trailing slash
    kind: str  # file | dir | symlink
    mode: int
    uid: int = 0
    gid: int = 0
    data: bytes = b""
    link: str = ""
    xattrs: tuple[tuple[str, bytes], ...] = ()


@dataclass
class Image:
    reference: str
    architecture: str
    created: int
    config: dict[str, object]
    entries: list[Entry] = field(default_factory=list)
    os: str = "linux"
    variant: str = ""


# ---- the layer tar -------------------------------------------------------------------------


def capability_xattr(names: Iterable[str], effective: bool) -> bytes:
    """``security.capability`` as setcap writes it for ``names=+p`` (``+ep`` when effective):
    struct vfs_cap_data, revision 2, little endian."""
    low = high = 0
    for name in names:
        if name not in CAPABILITIES:
            raise ImageError(f"unknown capability {name!r}")
        bit = CAPABILITIES[name]
        if bit < 32:
            low |= 1 << bit
        else:
            high |= 1 << (bit - 32)
    magic = VFS_CAP_REVISION_2 | (VFS_CAP_FLAGS_EFFECTIVE if effective else 0)
    return struct.pack("<5I", magic, low, 0, high, 0)


def _octal(value: int, width: int) -> bytes:
    text = f"{value:o}".encode()
    if len(text) > width - 1:
        raise ImageError(f"value {value} does not fit a tar header field")
    return text.rjust(width - 1, b"0") + b"\0"


def _header(name: bytes, kind: bytes, mode: int, uid: int, gid: int, size: int, mtime: int,
            link: bytes = b"") -> bytes:  # fmt: skip
    if len(name) > 100 or len(link) > 100:
        raise ImageError(f"name {name!r} too long for a plain header")
    fields = [
        name.ljust(100, b"\0"),
        _octal(mode, 8),
        _octal(uid, 8),
        _octal(gid, 8),
        _octal(size, 12),
        _octal(mtime, 12),
        b" " * 8,  # checksum, computed below
        kind,
        link.ljust(100, b"\0"),
        b"ustar\0" + b"00",
        b"\0" * 32,  # uname: none (numeric ids only)
        b"\0" * 32,  # gname
        _octal(0, 8),
        _octal(0, 8),
        b"\0" * 155,
        b"\0" * 12,
    ]
    block = b"".join(fields)
    assert len(block) == 512
    checksum = f"{sum(block):06o}".encode() + b"\0 "
    return block[:148] + checksum + block[156:]


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 512)


def _pax_record(key: str, value: bytes) -> bytes:
    body = b" " + key.encode() + b"=" + value + b"\n"
    n = len(body) + 1
    while len(str(n).encode()) + len(body) != n:
        n = len(str(n).encode()) + len(body)
    return str(n).encode() + body


def _entry_bytes(e: Entry, mtime: int) -> bytes:
    name = e.path + "/" if e.kind == "dir" else e.path
    raw = name.encode()
    link = e.link.encode()
    records: list[bytes] = []
    if len(raw) > 100:
        records.append(_pax_record("path", raw))
    if len(link) > 100:
        records.append(_pax_record("linkpath", link))
    for key, value in sorted(e.xattrs):
        records.append(_pax_record("SCHILY.xattr." + key, value))
    out = b""
    if records:
        pax = b"".join(records)
        short = ("PaxHeaders/" + posixpath.basename(e.path))[:99].encode()
        out += _header(short, b"x", 0o644, 0, 0, len(pax), mtime) + pax + _pad(len(pax))
    kind = {"file": b"0", "dir": b"5", "symlink": b"2"}[e.kind]
    size = len(e.data) if e.kind == "file" else 0
    out += _header(raw[:100], kind, e.mode, e.uid, e.gid, size, mtime, link[:100])
    if size:
        out += e.data + _pad(size)
    return out


def with_parents(entries: Iterable[Entry]) -> list[Entry]:
    """The entries plus every parent directory they lack (0755 root), sorted by path: the
    order of a tar whose parents always come before their children."""
    by_path: dict[str, Entry] = {}
    for e in entries:
        if not _PATH.fullmatch(e.path) or ".." in e.path.split("/") or e.path.endswith("/"):
            raise ImageError(f"bad path in image: {e.path!r}")
        if e.path in by_path:
            raise ImageError(f"path twice in image: {e.path!r}")
        by_path[e.path] = e
    for path in list(by_path):
        parent = posixpath.dirname(path)
        while parent:
            if parent in by_path and by_path[parent].kind != "dir":
                raise ImageError(f"{path!r} is below {parent!r}, which is not a directory")
            by_path.setdefault(parent, Entry(parent, "dir", 0o755))
            parent = posixpath.dirname(parent)
    return [by_path[p] for p in sorted(by_path, key=lambda p: p.split("/"))]


def layer_tar(entries: Iterable[Entry], mtime: int) -> bytes:
    body = b"".join(_entry_bytes(e, mtime) for e in with_parents(entries))
    return body + b"\0" * 1024


# ---- compression ---------------------------------------------------------------------------


_compressed: dict[str, bytes] = {}  # sha256 of a layer -> its zstd bytes (layers images share)


def zstd_compress(data: bytes, threads: int = 0) -> bytes:
    """zstd level 12, window 2^25 (``--long=25``), checksum; multi-threaded mode (``-T``),
    whose output is the same for any number of threads."""
    key = hashlib.sha256(data).hexdigest()
    if key not in _compressed:
        _compressed[key] = _zstd(data, threads)
    return _compressed[key]


def _zstd(data: bytes, threads: int) -> bytes:
    zstd = shutil.which("zstd")
    if zstd is None:
        raise ImageError("the zstd command is not installed")
    proc = subprocess.run(
        [zstd, "-q", "-c", f"-{ZSTD_LEVEL}", f"--long={ZSTD_WINDOW_LOG}", f"-T{threads}",
         "--no-progress"],
        input=data, capture_output=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise ImageError(f"zstd failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def zstd_window(frame: bytes) -> int:
    """The window size a zstd frame asks its decoder for (RFC 8878 3.1.1.1)."""
    if frame[:4] != b"\x28\xb5\x2f\xfd":
        raise ImageError("not a zstd frame")
    fhd = frame[4]
    single_segment = (fhd >> 5) & 1
    if single_segment:
        # no window descriptor: the window is the frame content size
        fcs_flag = fhd >> 6
        did = {0: 0, 1: 1, 2: 2, 3: 4}[fhd & 3]
        size_len = {0: 1, 1: 2, 2: 4, 3: 8}[fcs_flag]
        raw = frame[5 + did : 5 + did + size_len]
        value = int.from_bytes(raw, "little")
        return value + 256 if size_len == 2 else value
    wd = frame[5]
    exponent, mantissa = wd >> 3, wd & 7
    base = 1 << (10 + exponent)
    return base + (base // 8) * mantissa


# ---- the OCI layout ------------------------------------------------------------------------


def _json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _rfc3339(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def archive_bytes(image: Image, threads: int = 0) -> tuple[bytes, str]:
    """The OCI archive (a tar) and its manifest's digest."""
    if not _REFERENCE.fullmatch(image.reference):
        raise ImageError(f"reference {image.reference!r} is not registry/repository:tag")
    layer = layer_tar(image.entries, image.created)
    blob = zstd_compress(layer, threads)
    platform: dict[str, str] = {"architecture": image.architecture, "os": image.os}
    if image.variant:
        platform["variant"] = image.variant
    config = {
        **platform,
        "config": image.config,
        "created": _rfc3339(image.created),
        "history": [{"created": _rfc3339(image.created), "created_by": "emtk3s ociarchive"}],
        "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
    }
    config_raw = _json(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": _digest(config_raw), "size": len(config_raw)},
        "layers": [{"mediaType": MT_LAYER_ZSTD, "digest": _digest(blob), "size": len(blob)}],
    }
    manifest_raw = _json(manifest)
    tag = image.reference.rsplit(":", 1)[1]
    index = {
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [
            {
                "mediaType": MT_MANIFEST,
                "digest": _digest(manifest_raw),
                "size": len(manifest_raw),
                "platform": platform,
                "annotations": {ANNOTATION_NAME: image.reference, ANNOTATION_REF: tag},
            }
        ],
    }
    files = {
        "oci-layout": _json({"imageLayoutVersion": "1.0.0"}),
        "index.json": _json(index),
    }
    for raw in (config_raw, blob, manifest_raw):
        files["blobs/sha256/" + hashlib.sha256(raw).hexdigest()] = raw
    entries = [Entry(p, "file", 0o644, data=d) for p, d in files.items()]
    return layer_tar(entries, image.created), _digest(manifest_raw)


def write_archive(image: Image, out: str, threads: int = 0) -> str:
    """Write the archive to ``out`` (by rename, never half-written); returns the manifest digest."""
    data, digest = archive_bytes(image, threads)
    folder = os.path.dirname(os.path.abspath(out))
    fd, tmp = tempfile.mkstemp(prefix=".ociarchive-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return digest


def manifest_digest(archive: str) -> str:
    """The digest of the (one) manifest an archive's index.json names."""
    import tarfile

    with tarfile.open(archive) as tf:
        member = tf.extractfile("index.json")
        if member is None:
            raise ImageError(f"{archive}: no index.json")
        index = json.load(member)
    return str(index["manifests"][0]["digest"])


# ---- descriptions --------------------------------------------------------------------------


def _mode(value: object, where: str) -> int:
    if not isinstance(value, str) or not re.fullmatch(r"[0-7]{3,4}", value):
        raise ImageError(f"{where}: mode must be an octal string like '0755'")
    return int(value, 8)


def entry_from(item: dict[str, object], base: str = "") -> Entry:
    path = str(item.get("path", "")).strip("/")
    where = f"file {path!r}"
    uid, gid = int(str(item.get("uid", 0))), int(str(item.get("gid", 0)))
    if "link" in item:
        return Entry(path, "symlink", 0o777, uid, gid, link=str(item["link"]))
    if item.get("dir"):
        return Entry(path, "dir", _mode(item.get("mode", "0755"), where), uid, gid)
    if "text" in item:
        data = str(item["text"]).encode()
    elif "lines" in item:  # a text file given as its lines (each ends with a newline)
        lines = item["lines"]
        if not isinstance(lines, list):
            raise ImageError(f"{where}: lines must be a list")
        data = "".join(f"{line}\n" for line in lines).encode()
    elif "source" in item:
        src = os.path.join(base, str(item["source"]))
        with open(src, "rb") as f:
            data = f.read()
    else:
        raise ImageError(f"{where}: needs one of source, text, lines, link, dir")
    xattrs: tuple[tuple[str, bytes], ...] = ()
    caps = item.get("capabilities")
    if caps:
        if not isinstance(caps, list):
            raise ImageError(f"{where}: capabilities must be a list")
        xattrs = (("security.capability", capability_xattr(caps, bool(item.get("effective")))),)
    return Entry(
        path, "file", _mode(item.get("mode", "0644"), where), uid, gid, data, xattrs=xattrs
    )


def tree_entries(item: dict[str, object], base: str = "") -> list[Entry]:
    """A ``tree`` item's entries: the directory itself and everything below it."""
    path = str(item.get("path", "")).strip("/")
    top = os.path.join(base, str(item["tree"]))
    uid, gid = int(str(item.get("uid", 0))), int(str(item.get("gid", 0)))
    if not os.path.isdir(top) or os.path.islink(top):
        raise ImageError(f"file {path!r}: tree {item['tree']!r} is not a directory")
    out = [Entry(path, "dir", 0o755, uid, gid)] if path else []  # "": the image's root
    for root, dirs, files in os.walk(top):
        rel = os.path.relpath(root, top)
        here = path if rel == "." else posixpath.join(path, rel.replace(os.sep, "/"))
        for name in sorted(dirs + files):
            full = os.path.join(root, name)
            at = posixpath.join(here, name)
            if os.path.islink(full):
                out.append(Entry(at, "symlink", 0o777, uid, gid, link=os.readlink(full)))
            elif os.path.isdir(full):
                out.append(Entry(at, "dir", 0o755, uid, gid))
            elif os.path.isfile(full):
                mode = 0o755 if os.stat(full).st_mode & 0o111 else 0o644
                with open(full, "rb") as f:
                    out.append(Entry(at, "file", mode, uid, gid, f.read()))
            else:
                raise ImageError(f"file {at!r}: neither a file, a directory nor a link")
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
    return out


def image_from(desc: dict[str, object], base: str = "") -> Image:
    for key in ("reference", "architecture", "created", "config", "files"):
        if key not in desc:
            raise ImageError(f"description has no {key!r}")
    files = desc["files"]
    config = desc["config"]
    if not isinstance(files, list) or not isinstance(config, dict):
        raise ImageError("description: files must be a list and config an object")
    return Image(
        reference=str(desc["reference"]),
        architecture=str(desc["architecture"]),
        created=int(str(desc["created"])),
        config=config,
        entries=[
            e
            for item in files
            for e in (tree_entries(item, base) if "tree" in item else [entry_from(item, base)])
        ],
        variant=str(desc.get("variant", "")),
    )


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 2 and argv[0] == "--digest":
            print(manifest_digest(argv[1]))
            return 0
        if len(argv) != 2:
            print("usage: ociarchive.py DESCRIPTION.json OUT.tar | --digest ARCHIVE.tar",
                  file=sys.stderr)  # fmt: skip
            return 2
        with open(argv[0], encoding="utf-8") as f:
            desc = json.load(f)
        image = image_from(desc, os.path.dirname(os.path.abspath(argv[0])))
        threads = int(os.environ.get("OCIARCHIVE_THREADS", "0"))
        print(write_archive(image, argv[1], threads))
        return 0
    except (ImageError, OSError, ValueError, KeyError) as exc:
        print(f"ociarchive: {argv[0] if argv else ''}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
