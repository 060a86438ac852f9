"""Reading an RPM's header with the rpm bindings (signatures not checked: the files are ours)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def read_header(path: Path) -> dict[str, Any]:
    import rpm

    ts = rpm.TransactionSet()
    ts.setVSFlags(rpm.RPMVSF_MASK_NOSIGNATURES)  # type: ignore[attr-defined]
    with open(path, "rb") as fh:
        hdr = ts.hdrFromFdno(fh.fileno())

    def s(tag: int) -> str:
        v = hdr[tag]
        return v.decode() if isinstance(v, bytes) else str(v) if v is not None else ""

    requires = [r.decode() if isinstance(r, bytes) else r for r in hdr[rpm.RPMTAG_REQUIRENAME]]
    return {
        "name": s(rpm.RPMTAG_NAME),
        "version": s(rpm.RPMTAG_VERSION),
        "release": s(rpm.RPMTAG_RELEASE),
        "arch": s(rpm.RPMTAG_ARCH),
        "buildtime": int(hdr[rpm.RPMTAG_BUILDTIME] or 0),
        "requires": [r for r in requires if not r.startswith("rpmlib(")],
        "source_package": bool(hdr[rpm.RPMTAG_SOURCEPACKAGE]),
    }
