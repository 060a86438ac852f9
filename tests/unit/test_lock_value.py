"""The lock is an immutable value: fetch's pins make a new lock, the old one
is untouched, and a pin that disagrees with what is pinned is an integrity error."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from emtk3s import catalog
from emtk3s.infra.errors import IntegrityError
from emtk3s.model import lock as lockmod
from emtk3s.model.lock import Lock, Pin

CATALOG = catalog.load()

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "lock.json"


def _lock() -> Lock:
    return Lock.from_json(GOLDEN.read_text(), CATALOG.mirrors)


def test_a_lock_cannot_be_changed_in_place() -> None:
    lock = _lock()
    with pytest.raises(dataclasses.FrozenInstanceError):
        lock.k3s = "v9"  # type: ignore[misc]
    with pytest.raises(TypeError):
        lock.packages["x"] = lock.packages["k3s"]  # type: ignore[index]
    src = lock.packages["k3s"].sources[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        src.sha256 = None  # type: ignore[misc]
    assert isinstance(lock.packages["k3s"].sources, tuple)


def test_pins_make_a_new_lock_and_conflicts_are_refused() -> None:
    lock = _lock()
    src = lock.packages["slirp4netns"].sources[0]
    bare = dataclasses.replace(src, sha256=None, size=None, origin="")
    plock = dataclasses.replace(lock.packages["slirp4netns"], sources=(bare,))
    unpinned = dataclasses.replace(lock, packages={**lock.packages, "slirp4netns": plock})
    pinned = unpinned.with_pins([Pin("slirp4netns", src.name, src.sha256 or "", 123, "fetch")])
    assert unpinned.packages["slirp4netns"].sources[0].sha256 is None
    got = pinned.packages["slirp4netns"].sources[0]
    assert (got.sha256, got.size, got.origin) == (src.sha256, 123, "fetch")
    with pytest.raises(IntegrityError, match="the lock pins"):
        pinned.with_pins([Pin("slirp4netns", src.name, "0" * 64, 123, "fetch")])
    with pytest.raises(IntegrityError, match="123"):
        pinned.with_pins([Pin("slirp4netns", src.name, src.sha256 or "", 5, "fetch")])
    # a pin for a source the lock no longer has is dropped
    assert pinned.with_pins([Pin("gone", "x", "0" * 64, 1, "fetch")]) == pinned


def test_save_pins_merges_into_the_file_as_it_is_now(tmp_path: Path) -> None:
    path = tmp_path / "emtk3s.lock"
    lock = _lock()
    names = ("fuse-overlayfs", "slirp4netns")
    bare = {
        n: dataclasses.replace(
            lock.packages[n],
            sources=tuple(
                dataclasses.replace(s, sha256=None, size=None, origin="")
                for s in lock.packages[n].sources
            ),
        )
        for n in names
    }
    lockmod.write(path, dataclasses.replace(lock, packages={**lock.packages, **bare}))
    for n in names:  # two fetches, each with the lock it read before the other saved
        s = lock.packages[n].sources[0]
        lockmod.save_pins(path, [Pin(n, s.name, s.sha256 or "", 7, "fetch")], CATALOG.mirrors)
    final = lockmod.require(path, CATALOG.mirrors)
    for n in names:
        assert final.packages[n].sources[0].sha256 == lock.packages[n].sources[0].sha256
