"""Deterministic tarballs: the same tree gives the same bytes on any machine, any day.

The recipe EMT and Azure Linux use for their generated source tarballs
(`generate_source_tarball.sh`): GNU tar with names sorted, every mtime set to one fixed time
(set, not clamped: with ``--clamp-mtime`` a file older than that time keeps its own mtime, so a
commit time ahead of the host clock gave two different tarballs), uid/gid 0 with no names,
modes normalised (0755 for directories and executables, 0644 otherwise, no set-id bits), PAX
headers without atime/ctime.

Compression is gzip, done in parallel the way pigz does it: the tar stream is cut into fixed
128 KiB blocks, each deflated on its own thread with the 32 KiB before it as a preset
dictionary and ended by a sync flush, and the pieces are written in order into one gzip member
(header without name or time, like ``gzip -n``). Block boundaries depend only on the input, so
the bytes are the same for any number of threads (tests/unit/test_tarballs.py proves it); they
depend on zlib's deflate, so :data:`PACKER` names the zlib version and the lock records it with
every generated source it pins. Any gunzip reads the result.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import subprocess
import tempfile
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO

from emtk3s.infra.errors import BuildError, InputError
from emtk3s.infra.rpm.tools import need

_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]{0,199}\Z")

TAR_FLAGS = [
    "--sort=name",
    "--format=posix",
    "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "--mode=a-st,u+rwX,go=rX",
]

BLOCK = 128 * 1024  # bytes of tar stream per deflate job (as pigz)
WINDOW = 32 * 1024  # deflate's window: the preset dictionary of each block
# what the bytes of a generated tarball depend on besides the tree (recorded in the lock)
# (a token the lock's origin check accepts: gzip-zlib-1-2-13 for zlib 1.2.13, 128 KiB blocks)
PACKER = "gzip-zlib-" + zlib.ZLIB_RUNTIME_VERSION.replace(".", "-")


def _deflate(data: bytes, dictionary: bytes, level: int, last: bool) -> bytes:
    if dictionary:
        c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, dictionary)
    else:
        c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY)
    return c.compress(data) + c.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def gzip_stream(src: IO[bytes], out: IO[bytes], level: int = 9, jobs: int | None = None) -> None:
    """Compress ``src`` to ``out`` as one gzip member, ``jobs`` blocks at a time; the bytes do
    not depend on ``jobs``."""
    jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    xfl = 2 if level == 9 else 4 if level == 1 else 0
    out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes([xfl, 3]))
    crc, size, tail = 0, 0, b""
    pending: deque[Future[bytes]] = deque()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        cur = src.read(BLOCK)
        while True:
            nxt = src.read(BLOCK) if cur else b""
            crc = zlib.crc32(cur, crc)
            size += len(cur)
            pending.append(pool.submit(_deflate, cur, tail, level, not nxt))
            tail = (tail + cur)[-WINDOW:]
            while len(pending) > 2 * jobs or (not nxt and pending):
                out.write(pending.popleft().result())
            if not nxt:
                break
            cur = nxt
    out.write(struct.pack("<II", crc, size & 0xFFFFFFFF))


def deterministic_tar(
    src_dir: Path, out_path: Path, prefix: str, mtime: int, level: int = 9, jobs: int | None = None
) -> None:
    """Pack ``src_dir`` as ``<prefix>/...`` into ``out_path`` (tar.gz), written atomically."""
    if not _PREFIX.fullmatch(prefix):
        raise InputError(
            f"tarball prefix {prefix!r} is not a plain name", "use letters, digits and + . _ -"
        )
    tar = need("tar")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
    try:
        with os.fdopen(fd, "wb") as fh, tempfile.TemporaryFile() as errs:
            tar_proc = subprocess.Popen(
                [
                    tar,
                    *TAR_FLAGS,
                    f"--mtime=@{int(mtime)}",
                    f"--transform=s,^\\.,{prefix},S",
                    "-C",
                    str(src_dir),
                    "-cf",
                    "-",
                    ".",
                ],
                stdout=subprocess.PIPE,
                stderr=errs,
                env=env,
            )
            assert tar_proc.stdout is not None
            with tar_proc.stdout:
                gzip_stream(tar_proc.stdout, fh, level, jobs)
            if tar_proc.wait() != 0:
                errs.seek(0)
                tar_err = errs.read().decode(errors="replace")
                raise BuildError(
                    f"packing {src_dir} failed: {tar_err.strip()[:200]}",
                    "check the directory and free disk space",
                )
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
