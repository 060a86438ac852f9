"""One change to an EMT checkout, applied as a unit: all of it or none of it, even after SIGKILL.

Every new file and spec directory is first written into ``<checkout>/.emtk3s-integrate/``; then
``journal.json`` appears there by rename (the commit point); then each piece is renamed into
place and the directory removed. A run that finds the directory left behind recovers first:
with a journal it finishes the renames (roll forward), without one it throws the staging away.
Every rename stays on the checkout's file system; nothing is written outside the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from emtk3s.infra.errors import InputError, IntegrityError

TXN_DIR = ".emtk3s-integrate"
JOURNAL = "journal.json"


@dataclass
class Change:
    files: dict[str, bytes] = field(default_factory=dict)  # rel path -> content
    dirs: dict[str, dict[str, bytes]] = field(default_factory=dict)  # rel dir -> name -> content
    remove: list[str] = field(default_factory=list)  # rel dirs to delete


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def recover(emt: Path) -> str:
    """Finish or discard a change a killed run left behind: "rolled forward", "discarded", ""."""
    txn = emt / TXN_DIR
    if txn.is_symlink():
        txn.unlink()
        return "discarded"
    if not txn.is_dir():
        return ""
    if (txn / JOURNAL).is_file():
        _roll_forward(emt, txn)
        return "rolled forward"
    shutil.rmtree(txn)
    return "discarded"


def _bad_journal(txn: Path, why: str) -> InputError:
    return InputError(
        f"{txn / JOURNAL}: {why}; nothing was changed",
        f"this journal was not written by emtk3s: inspect it, then delete {txn}",
    )


def _target(emt: Path, txn: Path, raw: object) -> Path:
    """A journal target as a path inside the checkout: relative, normalized (no ``.``, ``..``
    or empty component), not in ``.git`` or the staging directory, and reached through real
    directories only (no component is a symbolic link), so a rename or removal there never
    lands outside the checkout."""
    if not isinstance(raw, str) or not raw or "\0" in raw or "\\" in raw:
        raise _bad_journal(txn, f"target {raw!r} is not a path")
    rel = PurePosixPath(raw)
    parts = raw.split("/")
    if rel.is_absolute() or any(p in ("", ".", "..") for p in parts) or str(rel) != raw:
        raise _bad_journal(txn, f"target {raw!r} is not a normalized path inside the checkout")
    if parts[0] in (TXN_DIR, ".git"):
        raise _bad_journal(txn, f"target {raw!r} is inside {parts[0]}")
    cur = emt
    for part in parts[:-1]:
        cur = cur / part
        if cur.is_symlink():
            raise _bad_journal(txn, f"target {raw!r}: {cur} is a symbolic link")
        if cur.exists() and not cur.is_dir():
            raise _bad_journal(txn, f"target {raw!r}: {cur} is not a directory")
    return emt / raw


def _real_dir(txn: Path, d: Path) -> None:
    if d.is_symlink() or (d.exists() and not d.is_dir()):
        raise _bad_journal(txn, f"{d} is not a directory")


def _load_journal(emt: Path, txn: Path) -> list[tuple[str, Path]]:
    try:
        ops = json.loads((txn / JOURNAL).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _bad_journal(txn, f"not readable JSON ({exc})") from None
    if not isinstance(ops, list):
        raise _bad_journal(txn, "not a list of operations")
    out: list[tuple[str, Path]] = []
    for op in ops:
        if not isinstance(op, dict) or op.get("kind") not in ("file", "dir", "remove"):
            raise _bad_journal(txn, f"operation {str(op)[:80]!r} is not file/dir/remove")
        out.append((op["kind"], _target(emt, txn, op.get("target"))))
    return out


def _unfinished(txn: Path, target: Path, why: str) -> IntegrityError:
    return IntegrityError(
        f"{txn / JOURNAL}: {target}: {why}; the journalled change cannot be finished",
        f"the checkout may be partly changed: review it (git status), then delete {txn}",
    )


def _roll_forward(emt: Path, txn: Path) -> None:
    ops = _load_journal(emt, txn)
    staged_dir, old = txn / "staged", txn / "old"
    _real_dir(txn, staged_dir)
    _real_dir(txn, old)
    old.mkdir(exist_ok=True)
    # Renames happen in journal order, so after a kill the done operations are a prefix: their
    # staged entries are gone and their targets are in place. A staged entry missing anywhere
    # else (or a target missing with it) is an error, never skipped.
    pending = False
    # a test seam: SIGKILL ourselves after N renames (tests/integration/test_emt.py)
    kill_after = int(os.environ.get("EMTK3S_TEST_KILL_AFTER_RENAMES", "-1"))
    for i, (kind, target) in enumerate(ops):
        if i == kill_after:
            os.kill(os.getpid(), 9)
        staged = staged_dir / str(i)
        if kind in ("file", "dir"):
            if staged.is_symlink() or (staged.exists() and (staged.is_dir() != (kind == "dir"))):
                raise _bad_journal(txn, f"{staged} is not a staged {kind}")
            if not staged.exists():
                if pending:
                    raise _unfinished(txn, target, f"staged {kind} {staged} is missing")
                if not target.exists():
                    raise _unfinished(txn, target, f"neither {staged} nor the target exists")
                continue  # renamed into place before the kill
            pending = True
            if kind == "dir" and (target.exists() or target.is_symlink()):
                os.replace(target, old / str(i))
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
        elif target.exists() or target.is_symlink():
            pending = True
            os.replace(target, old / str(i))
    shutil.rmtree(txn)


def apply(emt: Path, change: Change) -> None:
    recover(emt)
    txn = emt / TXN_DIR
    staged = txn / "staged"
    staged.mkdir(parents=True)
    ops: list[dict[str, str]] = []
    try:
        for rel, data in sorted(change.files.items()):
            _fsync_write(staged / str(len(ops)), data)
            mode = (emt / rel).stat().st_mode & 0o777 if (emt / rel).exists() else 0o644
            os.chmod(staged / str(len(ops)), mode)
            ops.append({"kind": "file", "target": rel})
        for rel, files in sorted(change.dirs.items()):
            d = staged / str(len(ops))
            d.mkdir()
            for name, data in sorted(files.items()):
                _fsync_write(d / name, data)
                os.chmod(d / name, 0o644)
            ops.append({"kind": "dir", "target": rel})
        for rel in sorted(change.remove):
            ops.append({"kind": "remove", "target": rel})
        tmp = txn / f"{JOURNAL}.new"
        _fsync_write(tmp, json.dumps(ops, indent=1).encode())
        os.replace(tmp, txn / JOURNAL)  # the commit point
    except BaseException:
        shutil.rmtree(txn, ignore_errors=True)
        raise
    _roll_forward(emt, txn)


def sweep_leftovers(emt: Path, rels: list[str]) -> list[str]:
    """Remove what older emtk3s versions left beside files and spec directories they wrote
    (``.name.*.tmp``, ``.dir.new.*``, ``.dir.old.*``); returns what was removed."""
    removed = []
    for rel in rels:
        p = emt / rel
        parent = p.parent
        if not parent.is_dir():
            continue
        for q in parent.iterdir():
            n = q.name
            if (n.startswith(f".{p.name}.") and n.endswith(".tmp")) or n.startswith(
                (f".{p.name}.new.", f".{p.name}.old.")
            ):
                if q.is_dir() and not q.is_symlink():
                    shutil.rmtree(q)
                else:
                    q.unlink()
                removed.append(str(q.relative_to(emt)))
    return removed
