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
    KEPT = "kept"  # EMT has a newer version: EMT's copy wins and stays untouched
    PENDING = "pending"  # a source not pinned yet (or a BuildRequires only a pending one has)
    REFUSED = "refused"  # a duplicate, a downgrade, a hand edit, a BuildRequires nobody provides

    @property
    def writes(self) -> bool:
        """The package's spec directory goes into the checkout."""
        return self in (
            IntegrateAction.NEW,
            IntegrateAction.UPDATE,
            IntegrateAction.UNCHANGED,
            IntegrateAction.REPLACE,
        )


class CheckStatus(StrEnum):
    """One of EMT's own CI checks run on an integrated checkout (``emt integrate --check``)."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # the checkout lacks the check, or the host lacks its tool
    #: the patched spec-cleaner's own defect: its only diff drops a lone %changelog entry
    LINTER_DEFECT = "linter-defect"
