"""Safe extraction of tar archives from upstream: every member is checked before anything is
written, and an archive with one bad member is refused whole.

Refused: absolute names, ``..`` components, a member whose parent directory is a symlink (or
hardlink) member of the archive, symlinks or hardlinks whose target leaves the destination or
passes through another link member, device nodes and FIFOs, a member or a total size over the
limit. After extraction every path is resolved with ``realpath(strict=True)`` (a loop, a dangling
or an over-long chain is refused, never resolved halfway) and must lie inside the destination.

These checks do not rely on tarfile's ``data`` filter, which Pythons without the fix for
CVE-2025-4517 (before 3.9.23, 3.10.18, 3.11.13, 3.12.11, 3.13.4) let symlink chains longer than
PATH_MAX through: no such chain survives the checks above, whatever the Python.
"""

from __future__ import annotations

import os
import posixpath
import sys
import tarfile
from pathlib import Path

from emtk3s.infra.errors import InputError

DEFAULT_MAX_TOTAL = 8 << 30  # 8 GiB unpacked
DEFAULT_MAX_MEMBERS = 500_000
#: whether this Python's tarfile data filter has the CVE-2025-4517 fix (informational: the
#: checks here do not depend on it)
PYTHON_TARFILE_FIXED = (
    sys.version_info >= (3, 11, 13)
    and (sys.version_info[:2] != (3, 12) or sys.version_info >= (3, 12, 11))
    and (sys.version_info[:2] != (3, 13) or sys.version_info >= (3, 13, 4))
)


def _refuse(archive: str, what: str) -> InputError:
    return InputError(f"{archive}: {what}", "refusing to unpack it")


def _walk(start: list[str], target: str, links: set[str]) -> list[str] | None:
    """Resolve ``target`` lexically from the directory ``start`` (a list of components); None
    if it leaves the root or passes through a link member on the way."""
    stack = list(start)
    comps = [c for c in target.split("/") if c not in ("", ".")]
    for i, comp in enumerate(comps):
        if comp == "..":
            if not stack:
                return None
            stack.pop()
            continue
        stack.append(comp)
        # the last component may name another link (itself checked); a directory on the way
        # may not: the lexical walk cannot know where it really goes
        if i < len(comps) - 1 and "/".join(stack) in links:
            return None
    return stack


def _inside(name: str) -> bool:
    norm = posixpath.normpath(name)
    return not (norm.startswith("/") or norm == ".." or norm.startswith("../"))


#: Linux's limits on a path component and a whole path (NAME_MAX, PATH_MAX less the NUL)
NAME_MAX = 255
PATH_MAX = 4095


def _check_length(archive: str, name: str, linkname: str) -> None:
    """A name the file system cannot hold is refused before anything is written (else the
    extraction stops halfway with ENAMETOOLONG)."""
    for what, value in (("member", name), ("link target of", linkname)):
        raw = os.fsencode(value)
        long_part = max((len(p) for p in raw.split(b"/")), default=0)
        if long_part > NAME_MAX or len(raw) > PATH_MAX:
            shown = value[:60] + "..."
            raise _refuse(
                archive,
                f"{what} {shown!r} is too long for a file system "
                f"(a component over {NAME_MAX} bytes or a path over {PATH_MAX})",
            )


def check_members(
    tf: tarfile.TarFile,
    archive: str,
    max_total_bytes: int,
    max_members: int,
    skip_outside_links: bool = False,
) -> list[tarfile.TarInfo]:
    members = []
    total = 0
    for m in tf:
        members.append(m)
        if len(members) > max_members:
            raise _refuse(archive, f"more than {max_members} members")
        name = m.name
        if not name or name.startswith("/") or "\x00" in name or not _inside(name):
            raise _refuse(archive, f"member {name!r} points outside the target")
        if any(part == ".." for part in name.split("/")):
            raise _refuse(archive, f"member {name!r} has a '..' component")
        _check_length(archive, name, m.linkname if (m.issym() or m.islnk()) else "")
        if m.ischr() or m.isblk() or m.isfifo() or m.isdev():
            raise _refuse(archive, f"member {name!r} is a device node or FIFO")
        if not (m.issym() or m.islnk() or m.isfile() or m.isdir()):
            raise _refuse(archive, f"member {name!r} has an unsupported type")
        if m.size < 0 or m.size > max_total_bytes:
            raise _refuse(archive, f"member {name!r} declares {m.size} bytes")
        total += m.size
        if total > max_total_bytes:
            raise _refuse(archive, f"unpacks to more than {max_total_bytes} bytes")
    # links are checked against the whole archive: a link member may come after its users
    links = {posixpath.normpath(m.name) for m in members if m.issym() or m.islnk()}
    skipped: set[int] = set()
    for m in members:
        parts = posixpath.normpath(m.name).split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in links:
                raise _refuse(
                    archive,
                    f"member {m.name!r} lies below the link member {'/'.join(parts[:i])!r}",
                )
        if m.issym():
            if m.linkname.startswith("/") or _walk(parts[:-1], m.linkname, links) is None:
                if skip_outside_links:  # never created (a rootfs overlay's -> /sbin/init)
                    skipped.add(id(m))
                    continue
                raise _refuse(
                    archive,
                    f"symlink {m.name!r} -> {m.linkname!r} points outside the target "
                    "or through another link",
                )
        elif m.islnk():
            if m.linkname.startswith("/") or _walk([], m.linkname, links) is None:
                raise _refuse(
                    archive,
                    f"hardlink {m.name!r} -> {m.linkname!r} points outside the target "
                    "or to another link",
                )
    return [m for m in members if id(m) not in skipped]


def _check_extracted(archive: str, dest_dir: Path, members: list[tarfile.TarInfo]) -> None:
    """Every extracted path, resolved strictly (no half-resolved chain), lies inside."""
    real_dest = os.path.realpath(dest_dir, strict=True)
    for m in members:
        path = dest_dir / m.name
        try:
            # a symlink member's own target was checked above; its directory is resolved here
            p = os.path.realpath(path.parent if m.issym() else path, strict=True)
        except OSError as exc:
            raise _refuse(archive, f"{m.name!r} does not resolve ({exc.strerror})") from None
        if not (p == real_dest or p.startswith(real_dest + os.sep)):
            raise _refuse(archive, f"{m.name!r} resolved outside the target")


def safe_extract(
    archive_path: Path,
    dest_dir: Path,
    *,
    max_total_bytes: int = DEFAULT_MAX_TOTAL,
    max_members: int = DEFAULT_MAX_MEMBERS,
    skip_outside_links: bool = False,
) -> list[str]:
    """Check every member, then extract into ``dest_dir``; returns the member names.

    Modes are kept (minus setuid/setgid/sticky), owners are not (files belong to the caller).
    ``skip_outside_links``: a symlink whose target leaves the destination is left out instead of
    refusing the archive (a tree we only read may carry such links as data, e.g. a build system's
    rootfs overlays); nothing is ever written through one, and a link that is not extracted
    cannot be followed.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive_path, "r:*") as tf:
            members = check_members(
                tf, archive_path.name, max_total_bytes, max_members, skip_outside_links
            )
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
    _check_extracted(archive_path.name, dest_dir, members)
    return [m.name for m in members]
