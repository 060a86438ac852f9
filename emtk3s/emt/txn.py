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
from pathlib import Path

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


def _roll_forward(emt: Path, txn: Path) -> None:
    ops = json.loads((txn / JOURNAL).read_text())
    old = txn / "old"
    old.mkdir(exist_ok=True)
    # a test seam: SIGKILL ourselves after N renames (tests/integration/test_emt.py)
    kill_after = int(os.environ.get("EMTK3S_TEST_KILL_AFTER_RENAMES", "-1"))
    for i, op in enumerate(ops):
        if i == kill_after:
            os.kill(os.getpid(), 9)
        target = emt / op["target"]
        staged = txn / "staged" / str(i)
        if op["kind"] == "file":
            if staged.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, target)
        elif op["kind"] == "dir":
            if staged.exists():
                if target.exists():
                    os.replace(target, old / str(i))
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, target)
        elif op["kind"] == "remove" and target.exists():
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
