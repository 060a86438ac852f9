"""Atomic file writes and a cross-process file lock: no half-written file is ever visible."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from emtk3s.infra.errors import EnvironmentProblem


def _no_space(path: Path, exc: OSError) -> EnvironmentProblem:
    return EnvironmentProblem(
        f"{path}: no space left on device while writing", "free disk space and run again"
    )


def write_bytes(path: Path, data: bytes, mode: int = 0o644, durable: bool = True) -> None:
    """Write via a temp file in the same directory, then rename over ``path`` (a reader sees
    the old content or the new, never a part). ``durable``: fsync before the rename, for what
    cannot be made again (the lock, the changelog history, release.toml); a file emtk3s can
    rebuild (stamps, memos, SPECS/) is not, and its readers take an empty one as missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _no_space(path, exc) from None
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_DEST_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def copy_file(src: Path, dest: Path) -> None:
    """``shutil.copyfile``, but a full or read-only destination is reported against ``dest``
    (shutil names the source), and no partial ``dest`` is left."""
    try:
        shutil.copyfile(src, dest)
    except OSError as exc:
        if exc.errno in _DEST_ERRNOS:
            with contextlib.suppress(OSError):
                os.unlink(dest)
            raise OSError(exc.errno, os.strerror(exc.errno), str(dest)) from None
        raise


def copy_into(src: Path, dest_dir: Path) -> Path:
    """Copy ``src`` into ``dest_dir`` under its own name; the name appears only when complete."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / src.name
    tmp = dest_dir / f".{src.name}.tmp"
    try:
        copy_file(src, tmp)
    except OSError as exc:
        if exc.errno in _DEST_ERRNOS:
            raise OSError(exc.errno, os.strerror(exc.errno), str(dest)) from None
        raise
    os.replace(tmp, dest)
    return dest


def move_into(src: Path, dest_dir: Path) -> Path:
    """Move ``src`` into ``dest_dir`` under its own name by rename (no copy) when both are on
    one filesystem, else by :func:`copy_into`; the name appears only when complete."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / src.name
    # The old file goes first: a rename over an existing file makes ext4 (auto_da_alloc) start
    # writing the new one back at once, which costs a gigabyte SRPM most of a second. A kill
    # in between leaves the name missing, never partial; the stage's stamp then redoes it.
    dest.unlink(missing_ok=True)
    try:
        os.replace(src, dest)
    except OSError as exc:
        if exc.errno in _DEST_ERRNOS:
            raise OSError(exc.errno, os.strerror(exc.errno), str(dest)) from None
        if exc.errno != errno.EXDEV:
            raise
        copy_into(src, dest_dir)
        src.unlink()
    return dest


def write_text(path: Path, text: str, mode: int = 0o644, durable: bool = True) -> None:
    write_bytes(path, text.encode("utf-8"), mode, durable)


def write_if_changed(path: Path, data: bytes, mode: int = 0o644, durable: bool = True) -> bool:
    """Write only when the content differs; returns whether the file changed."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_bytes(path, data, mode, durable)
    return True


def replace_dir(target: Path, files: dict[str, bytes], durable: bool = False) -> bool:
    """Make directory ``target`` hold exactly ``files`` (name -> bytes), atomically.

    The new tree is written beside the target and swapped in with renames, so a reader sees
    either the old directory or the new one. Returns whether anything changed. Not fsynced
    unless ``durable``: render's output is rebuilt from its inputs, and its stamp records the
    tree's digest, so a tree a crash damaged is not up to date and is rendered again.
    """
    if target.is_dir():
        current = {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()}
        others = [p for p in target.iterdir() if not p.is_file()]
        if current == files and not others:
            return False
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new.", dir=target.parent))
    old = target.parent / f".{target.name}.old.{os.getpid()}"
    try:
        for name, data in sorted(files.items()):
            with open(staging / name, "wb") as fh:
                fh.write(data)
                if durable:
                    fh.flush()
                    os.fsync(fh.fileno())
        os.chmod(staging, 0o755)
        if target.exists():
            os.replace(target, old)
        os.replace(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if old.exists() and not target.exists():
            os.replace(old, target)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _no_space(target, exc) from None
        raise
    shutil.rmtree(old, ignore_errors=True)
    return True


_STAGING = re.compile(r"\.(.+)\.(?:new|old)\..*")


def stale_names(parent: Path) -> set[str]:
    """The names with staging leftovers (``.<name>.new.*``, ``.<name>.old.*``) in ``parent``,
    from one listing: a caller with many names lists once, then cleans only these."""
    try:
        entries = os.listdir(parent)
    except (FileNotFoundError, NotADirectoryError):
        return set()
    return {m.group(1) for e in entries if e.startswith(".") and (m := _STAGING.fullmatch(e))}


def clean_stale(parent: Path, name: str) -> None:
    """Remove staging leftovers of an interrupted :func:`replace_dir` (a SIGKILL mid-swap)."""
    if not parent.is_dir():
        return
    # killed between the two renames: the old tree is the one to keep
    if not (parent / name).exists():
        olds = sorted(parent.glob(f".{name}.old.*"))
        if olds:
            os.replace(olds[-1], parent / name)
    for p in parent.iterdir():
        if p.name.startswith((f".{name}.new.", f".{name}.old.")):
            shutil.rmtree(p, ignore_errors=True)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (flock) held for the ``with`` block; released on process death."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
