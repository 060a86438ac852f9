"""Reading a spec with the rpm bindings (EMT's macros defined): the one place emtk3s parses a
spec with rpm. Everything else (the build graph, integrate, the checkout's versions) asks here.

A spec is a program: ``%(...)`` and ``%{lua:...}`` run while rpm parses it, and a spec may be
anyone's (a third-party spec dropped into SPECS/ for ``chain``, an EMT checkout's). So every
parse runs in the sandbox (infra/sandbox.py: the host's system read-only, only the specs'
directories and the macros file bound in read-only, no network, no capabilities, a private
/tmp): the system python3 with its rpm bindings reads the specs there and prints what emtk3s
needs of them as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from emtk3s.infra.errors import BuildError, EnvironmentProblem
from emtk3s.infra.rpm import macros

#: the interpreter inside the sandbox: the system's, which carries the rpm bindings
PYTHON = "/usr/bin/python3"


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


# Runs inside the sandbox (our own text): read {"macros": [[name, value]...], "specs": [paths]}
# on stdin, print one JSON list: per spec its header facts, or the parse error.
_PARSER = r"""
import json, sys
import rpm

req = json.load(sys.stdin)
for name, value in req["macros"]:
    rpm.addMacro(name, value)

def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)

def names(hdr, tag):
    return [text(v) for v in hdr[tag] or []]

out = []
for path in req["specs"]:
    try:
        s = rpm.spec(path)
    except Exception as exc:
        out.append({"error": " ".join(str(exc).split())[:300] or "parse failed"})
        continue
    src = s.sourceHeader
    provides = []
    for pkg in s.packages:
        provides.append(text(pkg.header[rpm.RPMTAG_NAME]))
        provides += names(pkg.header, rpm.RPMTAG_PROVIDENAME)
    out.append({
        "name": text(src[rpm.RPMTAG_NAME]),
        "version": text(src[rpm.RPMTAG_VERSION]),
        "build_requires": [r for r in names(src, rpm.RPMTAG_REQUIRENAME)
                           if not r.startswith("rpmlib(")],
        "provides": provides,
        "sources": [[text(u), int(n), bool(int(f) & rpm.RPMBUILD_ISSOURCE)]
                    for u, n, f in s.sources],
    })
json.dump(out, sys.stdout)
"""


def _parse_in_sandbox(specs: Sequence[Path]) -> list[dict[str, object]]:
    from emtk3s.infra import sandbox

    dirs = sorted({s.parent for s in specs})
    sb = sandbox.host_view(
        cwd=Path("/"),
        env={"HOME": "/tmp"},
        readable=dirs,
        lim=sandbox.limits(sandbox.PARSE_TIMEOUT),
    )
    req = {"macros": [list(d) for d in macros.definitions()], "specs": [str(s) for s in specs]}
    proc = sandbox.run(sb, [PYTHON, "-I", "-c", _PARSER], input=json.dumps(req).encode())
    err = proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        if "No module named 'rpm'" in err:
            raise EnvironmentProblem(
                f"{PYTHON} has no rpm bindings to parse specs with in the sandbox",
                "install them (Debian: apt-get install python3-rpm)",
            )
        tail = " ".join(err.split())[-300:]
        raise BuildError(f"parsing {specs[0]} in the sandbox failed: {tail}", "")
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        out = None
    if not isinstance(out, list) or len(out) != len(specs):
        raise BuildError(f"parsing {specs[0]} in the sandbox gave no usable result", "")
    return [o if isinstance(o, dict) else {"error": "malformed"} for o in out]


def read_many(specs: Sequence[Path]) -> list[SpecInfo]:
    """Parse ``specs`` in one sandboxed run (a BuildError naming the first that rpm cannot
    parse)."""
    if not specs:
        return []
    paths = [s.resolve() for s in specs]
    out = []
    for spec, facts in zip(specs, _parse_in_sandbox(paths), strict=True):
        if "error" in facts:
            raise BuildError(
                f"{spec}: the rpm bindings cannot parse it ({facts['error']})",
                "run emtk3s validate",
            )
        try:
            brs = [str(r) for r in facts["build_requires"]]  # type: ignore[attr-defined]
            provides = [str(p) for p in facts["provides"]]  # type: ignore[attr-defined]
            sources = tuple(
                SpecSource(str(u), int(n), bool(f))
                for u, n, f in facts["sources"]  # type: ignore[attr-defined]
            )
            info = SpecInfo(
                path=spec,
                name=str(facts["name"]),
                version=str(facts["version"]),
                build_requires=tuple(sorted(set(brs))),
                provides=tuple(sorted(set(provides))),
                sources=sources,
            )
        except (KeyError, TypeError, ValueError):
            raise BuildError(f"{spec}: the sandboxed parse gave a malformed result", "") from None
        out.append(info)
    return out


def read(spec: Path) -> SpecInfo:
    """Parse ``spec`` in the sandbox (a BuildError naming it when rpm cannot)."""
    return read_many([spec])[0]
