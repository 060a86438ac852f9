"""Deterministic tarballs: the same tree gives the same bytes on any machine, any day.

The same recipe EMT and Azure Linux use for their generated source tarballs
(`generate_source_tarball.sh`): GNU tar with names sorted, mtime clamped to a fixed time,
uid/gid 0 with no names, modes normalised (0755 for directories and executables, 0644
otherwise, no set-id bits), PAX headers without atime/ctime, then `gzip -n`. GNU tar and gzip
are an order of magnitude faster than Python's tarfile and zlib here (bench/bench_tarball.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
from pathlib import Path

from emtk3s.infra.errors import BuildError, InputError
from emtk3s.infra.rpmtools import need

_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]{0,199}$")

TAR_FLAGS = [
    "--sort=name",
    "--format=posix",
    "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "--mode=a-st,u+rwX,go=rX",
    "--clamp-mtime",
]


def deterministic_tar(
    src_dir: Path, out_path: Path, prefix: str, mtime: int, level: int = 9
) -> None:
    """Pack ``src_dir`` as ``<prefix>/...`` into ``out_path`` (tar.gz), written atomically."""
    if not _PREFIX.match(prefix):
        raise InputError(
            f"tarball prefix {prefix!r} is not a plain name", "use letters, digits and + . _ -"
        )
    tar, gzip = need("tar"), need("gzip")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
    try:
        with os.fdopen(fd, "wb") as fh:
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
                stderr=subprocess.PIPE,
                env=env,
            )
            gz = subprocess.run(
                [gzip, "-n", f"-{level}"],
                stdin=tar_proc.stdout,
                stdout=fh,
                stderr=subprocess.PIPE,
                env=env,
            )
            assert tar_proc.stdout is not None and tar_proc.stderr is not None
            tar_proc.stdout.close()
            tar_err = tar_proc.stderr.read().decode(errors="replace")
            if tar_proc.wait() != 0 or gz.returncode != 0:
                raise BuildError(
                    f"packing {src_dir} failed: {(tar_err or gz.stderr.decode(errors='replace')).strip()[:200]}",
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
