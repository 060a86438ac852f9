"""EMT's rpm macros (data/emt.macros), read by one parser: the rpm bindings, the mock config and
the stamps all see the same definitions."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from emtk3s.infra.paths import data_file

FILE = "emt.macros"


def path() -> Path:
    """The macros file (``rpmbuild --load`` takes it as it is)."""
    return data_file(FILE)


def data() -> bytes:
    """The file's bytes (part of the srpm, build and spec-memo keys)."""
    return path().read_bytes()


@lru_cache(maxsize=1)
def definitions() -> tuple[tuple[str, str], ...]:
    """(name without its ``%``, value) of every definition, in the file's order (a definition
    is one line: ``%name value``; comments and blank lines are skipped)."""
    out = []
    for line in path().read_text().splitlines():
        if line.startswith("%") and " " in line:
            name, value = line[1:].split(None, 1)
            out.append((name, value))
    return tuple(out)


def define_in_rpm() -> None:
    """Define every EMT macro in the rpm bindings (before they parse a spec)."""
    import rpm

    for name, value in definitions():
        rpm.addMacro(name, value)
