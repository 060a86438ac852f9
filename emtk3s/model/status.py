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


class IntegrateAction(StrEnum):
    """What ``emt integrate`` does with one package's spec in the EMT checkout."""

    NEW = "new"  # no spec of that name yet
    UPDATE = "update"  # replaces SPECS/<pkg> (ours, or EMT's own)
    UNCHANGED = "unchanged"  # SPECS/<pkg> already holds these bytes
    REPLACE = "replace"  # removes another copy (SPECS-EXTENDED/<pkg>, ...): --replace
    REFUSED = "refused"  # a duplicate, a downgrade or a hand edit the user did not accept


class CheckStatus(StrEnum):
    """One of EMT's own CI checks run on an integrated checkout (``emt integrate --check``)."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # the checkout lacks the check, or the host lacks its tool
