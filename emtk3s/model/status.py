"""Statuses shared across modules, as enums (their values are what --json and tables show)."""

from __future__ import annotations

from enum import StrEnum


class BuildStatus(StrEnum):
    """One package's build in a chain (``build``, ``all``, ``chain``)."""

    PENDING = "pending"
    BUILDING = "building"
    BUILT = "built"
    UP_TO_DATE = "up to date"
    FAILED = "failed"
    SKIPPED = "skipped"  # not tried: a dependency failed, or stopped after a failure

    @property
    def ok(self) -> bool:
        return self in (BuildStatus.BUILT, BuildStatus.UP_TO_DATE)
