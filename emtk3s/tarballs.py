"""Deterministic tarballs: the same tree gives the same bytes on any machine, any day.

Names sorted, mtime clamped to a fixed time, uid/gid 0 without names, modes normalised
(0755 for directories and executables, 0644 otherwise), PAX format without atime/ctime, gzip
with no name and mtime 0 (like ``gzip -n``).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import stat
import tarfile
import tempfile
from pathlib import Path


def _info(path: Path, arcname: str, mtime: int) -> tarfile.TarInfo:
    st = path.lstat()
    ti = tarfile.TarInfo(arcname)
    ti.mtime = min(int(st.st_mtime), mtime)
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    if stat.S_ISLNK(st.st_mode):
        ti.type = tarfile.SYMTYPE
        ti.linkname = os.readlink(path)
        ti.mode = 0o777
    elif stat.S_ISDIR(st.st_mode):
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
    elif stat.S_ISREG(st.st_mode):
        ti.size = st.st_size
        ti.mode = 0o755 if st.st_mode & 0o111 else 0o644
    else:
        raise ValueError(f"{path}: not a file, directory or symlink")
    return ti


def deterministic_tar(
    src_dir: Path, out_path: Path, prefix: str, mtime: int, level: int = 9
) -> None:
    """Pack ``src_dir`` as ``<prefix>/...`` into a gzip'd tar at ``out_path`` (written atomically)."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    try:
        with (
            os.fdopen(fd, "wb") as fh,
            gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=level) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf,
        ):
            entries = [src_dir]
            for root, dirs, files in os.walk(src_dir):
                dirs.sort()
                base = Path(root)
                entries += [base / d for d in dirs] + [base / f for f in sorted(files)]
            for path in sorted(entries, key=lambda p: p.relative_to(src_dir).as_posix()):
                rel = path.relative_to(src_dir).as_posix()
                arc = prefix if rel == "." else f"{prefix}/{rel}"
                ti = _info(path, arc, mtime)
                if ti.isreg():
                    with open(path, "rb") as src:
                        tf.addfile(ti, src)
                else:
                    tf.addfile(ti)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
