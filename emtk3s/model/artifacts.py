"""What the srpm stage and the builders make: an SRPM and one package's RPMs (values the stages,
the builders and the chain pass along; their --json form comes from the one encoder)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SrpmInfo:
    package: str
    path: Path = field(metadata={"json_name": "srpm"})
    sha256: str
    nevr: str
    skipped: bool
    log: Path
    # What the builders need of the SRPM's header, recorded in the stamp when the SRPM was
    # made, so that an up-to-date build never loads the rpm bindings (~40 ms of a no-op).
    # None: not known yet (an SRPM made elsewhere, an older stamp); :meth:`header` reads it.
    buildtime: int | None = field(default=None, metadata={"json": False})
    requires: tuple[str, ...] | None = field(default=None, metadata={"json": False})

    def header(self) -> tuple[int, tuple[str, ...]]:
        """(BUILDTIME, BuildRequires without rpmlib()) of the SRPM."""
        if self.buildtime is None or self.requires is None:
            from emtk3s.infra.rpm.header import read_header

            hdr = read_header(self.path)
            self.buildtime, self.requires = int(hdr["buildtime"]), tuple(hdr["requires"])
        return self.buildtime, self.requires


@dataclass
class BuildInfo:
    package: str
    srpm: Path
    rpms: list[Path]
    skipped: bool
    log: Path
    backend: str
