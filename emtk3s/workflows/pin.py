"""emt pin: the lock's PENDING generated sources pinned from EMT's own record
(emtk3s.emt.pin), written into the lock under its writer lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emtk3s.emt import pin
from emtk3s.infra.errors import InputError
from emtk3s.infra.paths import Project
from emtk3s.model import lock as lockmod
from emtk3s.model.release import Release


def pin_from_emt(
    project: Project, release: Release, emt: Path, packages: list[str]
) -> dict[str, Any]:
    mirrors = release.catalog.mirrors
    lock = lockmod.require(project.lock_file, mirrors)
    unknown = [p for p in packages if p not in lock.packages]
    if unknown:
        raise InputError(
            f"-p {unknown[0]}: not a package of the lock", f"choose from {', '.join(lock.packages)}"
        )
    pins, none = pin.from_record(emt, lock, packages or sorted(lock.packages), release.catalog)
    changed = False
    if pins:
        _, changed = lockmod.save_pins(project.lock_file, [p.pin for p in pins], mirrors)
    return {
        "emt_repo": str(emt),
        "pinned": [p.line() for p in pins],
        "not_found": none,
        "lock_changed": changed,
    }
