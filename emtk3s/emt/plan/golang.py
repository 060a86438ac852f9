"""The Go that builds k3s in EMT: the version of a golang spec of the checkout, pinned exactly.

EMT keeps more than one golang spec (3.0: ``SPECS/golang/golang.spec`` 1.24.1 and
``golang-1.23.spec`` 1.23.7, both ``Name: golang``); an open ``golang >= <go.mod minimum>``
would let the build root take the newest. The rendered ``BuildRequires:  golang >= %{go_min}``
becomes ``golang = <version>``: the checkout's golang of go.mod's major.minor (the Go line
upstream builds that K3s with), else the lowest one not older than go.mod's minimum; none at
all is a refusal naming the minimum."""

from __future__ import annotations

import re
from pathlib import Path

from emtk3s.emt import checkout
from emtk3s.model.versions import evr_compare

_BR = re.compile(r"^(BuildRequires:\s+)golang >= %\{go_min\}$", re.M)
_GO_MIN = re.compile(r"^%global go_min (\S+)$", re.M)
_NAME = re.compile(r"^Name:\s*golang\s*$", re.M)


def versions(emt: Path) -> list[tuple[str, str]]:
    """(version, spec path relative to the checkout) of every spec named golang."""
    out = []
    for root in checkout.spec_roots(emt):
        for spec in sorted(root.glob("golang*/golang*.spec")):
            text = spec.read_text(errors="replace")
            if _NAME.search(text):
                out.append((checkout.spec_version(spec), str(spec.relative_to(emt))))
    return out


def pin(spec: bytes, emt: Path) -> tuple[bytes, str, str]:
    """(the spec with golang pinned, a note, a refusal reason); unchanged when the spec has
    no ``golang >= %{go_min}``."""
    text = spec.decode()
    br, minimum = _BR.search(text), _GO_MIN.search(text)
    if not br or not minimum:
        return spec, "", ""
    go_min = minimum.group(1)
    usable = [(v, rel) for v, rel in versions(emt) if evr_compare(v, go_min) >= 0]
    if not usable:
        return (
            spec,
            "",
            (
                f"BuildRequires golang >= {go_min} (go.mod's minimum): no golang spec of the "
                "checkout is that new"
            ),
        )
    line = ".".join(go_min.split(".")[:2])
    same = [u for u in usable if ".".join(u[0].split(".")[:2]) == line]
    pool = same or usable
    version, rel = pool[0]
    for v, r in pool[1:]:
        if evr_compare(v, version) < 0:
            version, rel = v, r
    pinned = text[: br.start()] + f"{br.group(1)}golang = {version}" + text[br.end() :]
    return pinned.encode(), f"golang pinned to {version} ({rel}; go.mod's minimum {go_min})", ""
