"""Parsing specs with the rpm bindings inside the sandbox.

A spec is a program: ``%(...)`` and ``%{lua:...}`` run while rpm parses it. A spec emtk3s did
not render (one dropped into SPECS/ for ``chain``, an EMT checkout's) is therefore parsed only
in the sandbox (infra/sandbox.py: the host's system read-only, only the specs' directories
bound in read-only, no network, no capabilities, a private /tmp): the host's python3 with its
rpm bindings reads the specs there and prints what emtk3s needs of them as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emtk3s.infra.errors import BuildError, EnvironmentProblem
from emtk3s.infra.paths import data_file

#: the interpreter inside the sandbox: the system's, which carries the rpm bindings
PYTHON = "/usr/bin/python3"

# Runs inside the sandbox (our own text): read {"macros": path, "specs": [paths]} on stdin,
# print one JSON document: per spec its header facts, or the parse error.
_PARSER = r"""
import json, sys
import rpm

req = json.load(sys.stdin)
for line in open(req["macros"], encoding="utf-8").read().splitlines():
    if line.startswith("%") and " " in line:
        name, value = line[1:].split(None, 1)
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
        "sources": [[text(u), int(n), int(f)] for u, n, f in s.sources],
        "is_source": int(rpm.RPMBUILD_ISSOURCE),
    })
json.dump(out, sys.stdout)
"""


def parse(specs: Sequence[Path], macros: Path | None = None) -> list[dict[str, Any]]:
    """Each spec's Name, Version, BuildRequires, Provides (binary package names included) and
    Sources, parsed with ``macros`` (EMT's) loaded, in one sandboxed run. A spec rpm cannot
    parse gives ``{"error": ...}``."""
    from emtk3s.infra import sandbox

    if not specs:
        return []
    macros = macros or data_file("emt.macros")
    specs = [s.resolve() for s in specs]
    dirs = sorted({s.parent for s in specs})
    sb = sandbox.host_view(
        cwd=Path("/"),
        env={"HOME": "/tmp"},
        readable=[macros, *dirs],
        lim=sandbox.limits(sandbox.PARSE_TIMEOUT),
    )
    req = json.dumps({"macros": str(macros), "specs": [str(s) for s in specs]}).encode()
    proc = sandbox.run(sb, [PYTHON, "-I", "-c", _PARSER], input=req)
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
        raise BuildError(f"parsing {specs[0]} in the sandbox gave no result", "") from None
    if not isinstance(out, list) or len(out) != len(specs):
        raise BuildError(f"parsing {specs[0]} in the sandbox gave a malformed result", "")
    return [o if isinstance(o, dict) else {"error": "malformed"} for o in out]
