"""A memo of a run that changed nothing, so that the same run can be answered without running.

A no-op ``emtk3s all`` spends most of its time importing the stages only to find every stamp
up to date. A memo records, for such a run, everything its outcome rests on and what it
printed: a key (the command's options, the environment, the boot, the interpreter) and a
*snapshot*, the stat identity (device, inode, size, mode, mtime_ns, ctime_ns) of every file it
read and the listing of every directory it looked into. While the key and the snapshot are
unchanged, running again would read the same bytes and print the same lines, so the memo's
lines are printed instead. Any write to a file moves its ctime (which no process can set back
short of changing the clock), and an added or removed file changes a listing, so any change
falls back to the full run. This is the test the verified cache and the stage stamps already
rely on (:mod:`emtk3s.infra.cache`); the boot is in the key because their records are sealed
to it.

This module imports nothing but :mod:`os` (and blake2b): checking a memo must cost far less
than the imports it saves.

The memo is a text file (paths with a tab or a newline are never recorded)::

    emtk3s-runmemo 1
    key <blake2b hex of the key>
    out <a line printed on stdout>        (one per line)
    tree <dir>  /  list <dir>  /  file <path>   (what the snapshot covers)
    snap
    <the snapshot, one entry a line>
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

MAGIC = "emtk3s-runmemo 1"
#: directory names a tree walk skips: compiled modules (Python writes them as it pleases)
SKIP_NAMES = frozenset({"__pycache__"})


def digest(parts: Iterable[str]) -> str:
    """A hash of the key's parts (blake2b: its module loads in a fraction of hashlib's time)."""
    try:
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - an interpreter without the builtin module
        from hashlib import blake2b
    h = blake2b(digest_size=32)
    for part in parts:
        h.update(part.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
    return h.hexdigest()


def _ident(st: os.stat_result) -> str:
    return f"{st.st_dev} {st.st_ino} {st.st_size} {st.st_mode} {st.st_mtime_ns} {st.st_ctime_ns}"


def _entry(path: str, st: os.stat_result | None) -> str:
    if st is None:
        return f"-\t{path}"
    if (st.st_mode & 0o170000) == 0o120000:  # a symbolic link: its identity and its target
        try:
            return f"l\t{path}\t{_ident(st)}\t{os.readlink(path)}"
        except OSError:
            return f"-\t{path}"
    return f"f\t{path}\t{_ident(st)}"


def _walk(top: str, recursive: bool, skip: frozenset[str], out: list[str]) -> None:
    try:
        with os.scandir(top) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        out.append(f"-\t{top}")
        return
    out.append(f"d\t{top}")
    for e in entries:
        if e.name in SKIP_NAMES or e.path in skip:
            continue
        try:
            is_dir = e.is_dir(follow_symlinks=False)
            if is_dir:
                if recursive:
                    _walk(e.path, True, skip, out)
                else:
                    out.append(f"d\t{e.path}")
                continue
            out.append(_entry(e.path, e.stat(follow_symlinks=False)))
        except OSError:
            out.append(f"-\t{e.path}")


def snapshot(
    trees: Sequence[str] = (),
    listings: Sequence[str] = (),
    files: Sequence[str] = (),
    skip: Iterable[str] = (),
) -> list[str]:
    """One line per entry: every file and directory under each of ``trees`` (recursively),
    every entry of each of ``listings`` (files with their identity, directories by name), and
    each of ``files`` (followed if a link: a directory here is taken by its own identity, so
    its mtime tells an entry added or removed). ``skip``: paths the walks leave out (as they
    are spelled under their tree)."""
    skipped = frozenset(skip)
    out: list[str] = []
    for t in trees:
        _walk(t, True, skipped, out)
    for d in listings:
        _walk(d, False, skipped, out)
    for f in files:
        try:
            st: os.stat_result | None = os.stat(f)
        except OSError:
            st = None
        out.append(f"-\t{f}" if st is None else f"f\t{f}\t{_ident(st)}")
    return out


def recordable(paths: Iterable[str]) -> bool:
    return not any("\n" in p or "\t" in p for p in paths)


def render(
    key: str,
    out: Sequence[str],
    trees: Sequence[str],
    listings: Sequence[str],
    files: Sequence[str],
    skip: Sequence[str],
    snap: Sequence[str],
) -> str:
    lines = [MAGIC, f"key {key}"]
    lines += [f"out {line}" for line in out]
    lines += [f"tree {p}" for p in trees]
    lines += [f"list {p}" for p in listings]
    lines += [f"file {p}" for p in files]
    lines += [f"skip {p}" for p in skip]
    lines.append("snap")
    lines += snap
    return "\n".join(lines) + "\n"


def replay(memo_file: str, key: str) -> list[str] | None:
    """The lines the memo's run printed, when ``key`` is its key and its snapshot still holds;
    None otherwise (no memo, another key, anything changed: run for real)."""
    try:
        with open(memo_file, encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
    except OSError:
        return None
    head, sep, snap = text.partition("\nsnap\n")
    lines = head.split("\n")
    if not sep or len(lines) < 2 or lines[0] != MAGIC or lines[1] != f"key {key}":
        return None
    out: list[str] = []
    spec: dict[str, list[str]] = {"tree": [], "list": [], "file": [], "skip": []}
    for line in lines[2:]:
        kind, _, rest = line.partition(" ")
        if kind == "out":
            out.append(rest)
        elif kind in spec:
            spec[kind].append(rest)
        else:
            return None
    now = snapshot(spec["tree"], spec["list"], spec["file"], spec["skip"])
    if "\n".join(now) + "\n" != snap:
        return None
    return out


def write(memo_file: str, text: str) -> bool:
    """Put the memo in place (renamed, not fsynced: a lost memo only costs one full run).
    False when the memo there already says the same (nothing is written then)."""
    try:
        with open(memo_file, encoding="utf-8", errors="surrogateescape") as fh:
            if fh.read() == text:
                return False
    except OSError:
        pass
    os.makedirs(os.path.dirname(memo_file), exist_ok=True)
    tmp = f"{memo_file}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as fh:
        fh.write(text)
    os.replace(tmp, memo_file)
    return True
