"""An EMT checkout as emtk3s sees it: where it is, which specs it holds (in SPECS, SPECS-EXTENDED,
SPECS-SIGNED …), and paths inside it that are safe to write (no symlink, no ``..``)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from emtk3s.infra.errors import BuildError, InputError
from emtk3s.infra.rpm.spec import read as read_spec


def require(emt: Path) -> Path:
    """The checkout's real root; an InputError (exit 2) for anything that is not one."""
    if not (emt / "SPECS").is_dir() or not (emt / "toolkit").is_dir():
        raise InputError(
            f"{emt}: not an EMT checkout (no SPECS/ and toolkit/)", "pass --emt-repo PATH"
        )
    return emt.resolve()


@contextlib.contextmanager
def exclusive(emt: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the checkout's root directory: one integrate at a time
    reads, plans and changes a checkout; a second waits for the first, then sees its result.
    The lock is on the directory itself (no lock file in the checkout) and is released when
    the process dies."""
    fd = os.open(emt, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def spec_roots(emt: Path) -> list[Path]:
    """SPECS, SPECS-EXTENDED, SPECS-SIGNED and any other SPECS* directory, sorted."""
    return sorted(p for p in emt.iterdir() if p.name.startswith("SPECS") and p.is_dir())


@dataclass(frozen=True)
class ExistingSpec:
    rel: str  # e.g. SPECS-EXTENDED/<name>/<name>.spec
    version: str

    @property
    def dir(self) -> str:
        return str(PurePosixPath(self.rel).parent)


def spec_version(spec: Path) -> str:
    m = re.search(r"^Version:\s*([^\s%]+)\s*$", spec.read_text(errors="replace"), re.M)
    if m:  # a literal Version tag: no need to run the spec's shell macros
        return m.group(1)
    try:  # a checkout's spec is not ours: read_spec parses it in the sandbox
        return read_spec(spec).version
    except BuildError:  # a spec our macros cannot parse: read the tag as written
        m = re.search(r"^Version:\s*(\S+)", spec.read_text(errors="replace"), re.M)
        return m.group(1) if m else "?"


def find_specs(emt: Path, name: str) -> list[ExistingSpec]:
    """Every ``<SPECS*>/<dir>/<name>.spec`` in the checkout."""
    out = []
    for root in spec_roots(emt):
        for spec in sorted(root.glob(f"*/{name}.spec")):
            if spec.is_file():
                out.append(ExistingSpec(str(spec.relative_to(emt)), spec_version(spec)))
    return out


def safe_path(emt: Path, rel: str, what: str) -> Path:
    """``emt/rel`` after refusing an absolute path, ``..`` and any symlink on the way."""
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise InputError(
            f"{what} {rel!r}: not a path inside the EMT checkout",
            "name a file under the checkout (no absolute path, no '..')",
        )
    cur = emt
    for part in pure.parts:
        cur = cur / part
        if cur.is_symlink():
            raise InputError(
                f"{cur}: a symlink inside the EMT checkout; emtk3s writes only inside the checkout",
                "replace the symlink with the real directory or file",
            )
    return cur


def load_json(path: Path, shape: str) -> tuple[Any, str]:
    """(data, text) of a JSON file; exit 2 naming the file when missing or not valid JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"{path}: missing in the EMT checkout", "is --emt-repo the EMT repository root?"
        ) from None
    except (UnicodeDecodeError, IsADirectoryError):
        raise InputError(f"{path}: not a UTF-8 JSON file", f"restore it: {shape}") from None
    try:
        return json.loads(text), text
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})", "fix the EMT checkout") from None


def bad_shape(path: Path, shape: str) -> InputError:
    return InputError(f"{path}: unexpected JSON shape", f"expected {shape}; fix the file")


def string_list(path: Path, data: Any, key: str, shape: str) -> list[str]:
    """The list of strings under ``key`` (exit 2 naming the file when it is not one)."""
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise bad_shape(path, shape)
    return value


def source_basenames(emt: Path) -> dict[str, tuple[str, str]]:
    """basename -> (spec dir relative to the checkout, sha256) from every signatures.json:
    EMT's source server keys sources by basename alone."""
    out: dict[str, tuple[str, str]] = {}
    for root in spec_roots(emt):
        for sig in sorted(root.glob("*/*.signatures.json")):
            try:
                data = json.loads(sig.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue
            sigs = data.get("Signatures") if isinstance(data, dict) else None
            if not isinstance(sigs, dict):
                continue
            for name, sha in sigs.items():
                if isinstance(name, str) and isinstance(sha, str):
                    out.setdefault(name, (str(sig.parent.relative_to(emt)), sha))
    return out


_MACRO_DEF = re.compile(r"^%(?:global|define)\s+(\w+)\s+(\S+)\s*$", re.M)
_PACKAGE = re.compile(r"^%package\s+(-n\s+)?(\S+)\s*$", re.M)
_PROVIDES = re.compile(r"^Provides:\s*(.+?)\s*$", re.M | re.I)
_NAME = re.compile(r"^Name:\s*(\S+)\s*$", re.M)
_DEP_NAME = re.compile(r"[A-Za-z0-9_.+(){}%/:-]+")


def _expand(text: str, macros: dict[str, str]) -> str:
    for _ in range(3):  # nested definitions (%{name}-%{major}) resolve in a few rounds
        text = re.sub(r"%\{\??(\w+)\}|%(\w+)", lambda m: macros.get(m[1] or m[2], m[0]), text)
    return text


def spec_provides(text: str) -> set[str]:
    """The capability names a spec's text says it provides: its Name, each ``%package``
    (``<name>-<sub>`` or ``-n <sub>``) and each ``Provides:`` name, with %{name} and the
    spec's own literal %global/%define values expanded. Read as text: parsing thousands of
    EMT specs with rpm would run their shell macros; a name hidden behind a conditional
    macro is missed (the refusal names the BuildRequires, so the reader can judge)."""
    m = _NAME.search(text)
    if not m:
        return set()
    macros = {k: v for k, v in _MACRO_DEF.findall(text)}
    name = _expand(m.group(1), macros)
    macros["name"] = name
    out = {name}
    for dash_n, sub in _PACKAGE.findall(text):
        sub = _expand(sub, macros)
        out.add(sub if dash_n else f"{name}-{sub}")
    for line in _PROVIDES.findall(text):
        for dep in re.split(r",|\s+(?=[A-Za-z_(])", _expand(line, macros)):
            tok = _DEP_NAME.match(dep.strip())
            if tok and tok.group(0)[0] not in "<>=":
                out.add(tok.group(0))
    return {p for p in out if "%" not in p}


def provided(emt: Path, skip_dirs: Collection[str] = ()) -> set[str]:
    """Every capability the checkout's specs provide (spec directories in ``skip_dirs``,
    relative to the checkout, left out: those integrate removes)."""
    out: set[str] = set()
    for root in spec_roots(emt):
        for spec in root.glob("*/*.spec"):
            if str(spec.parent.relative_to(emt)) in skip_dirs:
                continue
            try:
                out |= spec_provides(spec.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                continue
    return out
