"""rpm's version order (``rpm.labelCompare``) of two version strings."""

from __future__ import annotations


def label_compare(a: str, b: str) -> int:
    """-1, 0 or 1 as rpm orders versions ``a`` and ``b`` (same epoch and release on both
    sides, so only the versions decide)."""
    import rpm

    return int(rpm.labelCompare(("0", a, "0"), ("0", b, "0")))
