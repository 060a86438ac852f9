"""Reading a spec with the rpm bindings (EMT's macros defined): the one place emtk3s parses a
spec with rpm. Everything else (the build graph, integrate, the checkout's versions) asks here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emtk3s.infra.errors import BuildError
from emtk3s.infra.rpm import macros


@dataclass(frozen=True)
class SpecSource:
    url: str  # as rpm expands it (with any ``#/name`` suffix)
    number: int
    is_source: bool  # a Source line (else a Patch line)


@dataclass(frozen=True)
class SpecInfo:
    path: Path
    name: str  # the source package's Name
    version: str
    build_requires: tuple[str, ...]  # sorted, rpmlib() requirements left out
    provides: tuple[str, ...]  # sorted names of the binary packages and their Provides
    sources: tuple[SpecSource, ...]  # Source and Patch lines, in rpm's order


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _names(hdr: Any, tag: int) -> list[str]:
    return [_text(v) for v in hdr[tag] or []]


def read(spec: Path) -> SpecInfo:
    """Parse ``spec`` (a BuildError naming it when rpm cannot)."""
    import rpm

    macros.define_in_rpm()
    try:
        s = rpm.spec(str(spec))
    except ValueError as exc:
        raise BuildError(
            f"{spec}: the rpm bindings cannot parse it ({exc})", "run emtk3s validate"
        ) from None
    src = s.sourceHeader
    brs = [r for r in _names(src, rpm.RPMTAG_REQUIRENAME) if not r.startswith("rpmlib(")]
    provides: list[str] = []
    for pkg in s.packages:
        provides.append(_text(pkg.header[rpm.RPMTAG_NAME]))
        provides += _names(pkg.header, rpm.RPMTAG_PROVIDENAME)
    sources = tuple(
        SpecSource(str(url), int(num), bool(flags & rpm.RPMBUILD_ISSOURCE))
        for url, num, flags in s.sources
    )
    return SpecInfo(
        path=spec,
        name=_text(src[rpm.RPMTAG_NAME]),
        version=_text(src[rpm.RPMTAG_VERSION]),
        build_requires=tuple(sorted(set(brs))),
        provides=tuple(sorted(set(provides))),
        sources=sources,
    )
