"""Safe extraction of tar archives from upstream: every member is checked before anything is
written, and an archive with one bad member is refused whole.

Refused: absolute names, ``..`` components, symlinks or hardlinks whose target leaves the
destination, device nodes and FIFOs, a member or a total size over the limit.
"""

from __future__ import annotations

import os
import posixpath
import tarfile
from pathlib import Path

from emtk3s.infra.errors import InputError

DEFAULT_MAX_TOTAL = 8 << 30  # 8 GiB unpacked
DEFAULT_MAX_MEMBERS = 500_000


def _inside(name: str) -> bool:
    norm = posixpath.normpath(name)
    return not (norm.startswith("/") or norm == ".." or norm.startswith("../"))


def check_members(
    tf: tarfile.TarFile, archive: str, max_total_bytes: int, max_members: int
) -> list[tarfile.TarInfo]:
    members = []
    total = 0
    for m in tf:
        members.append(m)
        if len(members) > max_members:
            raise InputError(f"{archive}: more than {max_members} members", "refusing to unpack it")
        name = m.name
        if not name or name.startswith("/") or "\x00" in name or not _inside(name):
            raise InputError(
                f"{archive}: member {name!r} points outside the target", "refusing to unpack it"
            )
        if any(part == ".." for part in name.split("/")):
            raise InputError(
                f"{archive}: member {name!r} has a '..' component", "refusing to unpack it"
            )
        if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
            raise InputError(
                f"{archive}: member {name!r} is a device node or FIFO", "refusing to unpack it"
            )
        if m.issym():
            target = m.linkname
            if target.startswith("/") or not _inside(
                posixpath.join(posixpath.dirname(name), target)
            ):
                raise InputError(
                    f"{archive}: symlink {name!r} -> {target!r} points outside the target",
                    "refusing to unpack it",
                )
        elif m.islnk():
            if m.linkname.startswith("/") or not _inside(m.linkname):
                raise InputError(
                    f"{archive}: hardlink {name!r} -> {m.linkname!r} points outside the target",
                    "refusing to unpack it",
                )
        elif not (m.isfile() or m.isdir()):
            raise InputError(
                f"{archive}: member {name!r} has an unsupported type", "refusing to unpack it"
            )
        if m.size < 0 or m.size > max_total_bytes:
            raise InputError(
                f"{archive}: member {name!r} declares {m.size} bytes", "refusing to unpack it"
            )
        total += m.size
        if total > max_total_bytes:
            raise InputError(
                f"{archive}: unpacks to more than {max_total_bytes} bytes", "refusing to unpack it"
            )
    return members


def safe_extract(
    archive_path: Path,
    dest_dir: Path,
    *,
    max_total_bytes: int = DEFAULT_MAX_TOTAL,
    max_members: int = DEFAULT_MAX_MEMBERS,
) -> list[str]:
    """Check every member, then extract into ``dest_dir``; returns the member names.

    Modes are kept (minus setuid/setgid/sticky), owners are not (files belong to the caller).
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive_path, "r:*") as tf:
            members = check_members(tf, archive_path.name, max_total_bytes, max_members)
            for m in members:
                m.mode &= 0o777 if m.isdir() else 0o755 if m.mode & 0o111 else 0o644
                m.uid = m.gid = 0
                m.uname = m.gname = ""
            # every member passed the checks above; the data filter is a second fence
            tf.extractall(dest_dir, members=members, filter="data")
    except tarfile.TarError as exc:
        raise InputError(
            f"{archive_path.name}: not a readable tar archive ({exc})", "check the source"
        ) from None
    except EOFError:
        raise InputError(f"{archive_path.name}: truncated archive", "download it again") from None
    real_dest = os.path.realpath(dest_dir)
    for m in members:
        p = os.path.realpath(dest_dir / m.name)
        if not (p == real_dest or p.startswith(real_dest + os.sep)):
            raise InputError(f"{archive_path.name}: {m.name!r} resolved outside the target", "")
    return [m.name for m in members]
