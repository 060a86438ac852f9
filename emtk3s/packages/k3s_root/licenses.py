"""k3s-root's License: tag, derived from buildroot's own show-info `licenses` of every target
package that downloads code (host tools build the tree but are not in it), in SPDX terms."""

from __future__ import annotations

import re
from typing import Any

from emtk3s.infra.errors import InputError

#: buildroot's license names (docs/manual: "SPDX short identifiers where possible") -> SPDX
SPDX = {
    "GPL-2.0": "GPL-2.0-only",
    "GPL-2.0+": "GPL-2.0-or-later",
    "GPL-3.0": "GPL-3.0-only",
    "GPL-3.0+": "GPL-3.0-or-later",
    "LGPL-2.0": "LGPL-2.0-only",
    "LGPL-2.0+": "LGPL-2.0-or-later",
    "LGPL-2.1": "LGPL-2.1-only",
    "LGPL-2.1+": "LGPL-2.1-or-later",
    "LGPL-3.0": "LGPL-3.0-only",
    "LGPL-3.0+": "LGPL-3.0-or-later",
    "GPL-3.0-with-GCC-exception": "GPL-3.0-or-later WITH GCC-exception-3.1",
    # busybox's archival/libarchive/bz/LICENSE: the bzip2 licence SPDX lists as bzip2-1.0.6
    "bzip2-1.0.4": "bzip2-1.0.6",
    "Public Domain": "LicenseRef-Public-Domain",
    "CC0": "CC0-1.0",
}
_PLAIN = re.compile(r"^[A-Za-z0-9.+-]+$")
_ANNOTATION = re.compile(r"\s*\([^)]*\)")


def spdx_term(name: str, pkg: str) -> str:
    name = name.strip()
    if name in SPDX:
        return SPDX[name]
    if name in ("MIT", "ISC", "Zlib", "Apache-2.0") or re.fullmatch(r"BSD-[234]-Clause", name):
        return name
    raise InputError(
        f"buildroot package {pkg}: license {name!r} has no SPDX mapping in emtk3s",
        "add it to SPDX in emtk3s/packages/k3s_root/licenses.py after reading the license",
    )


def package_terms(text: str, pkg: str) -> list[str]:
    """`GPL-2.0+, BSD-4-Clause, LGPL-2.1+ (libblkid), ...` -> SPDX terms; `A or B` -> (A OR B)."""
    out = []
    for part in _ANNOTATION.sub("", text).split(","):
        alts = [spdx_term(a, pkg) for a in re.split(r"\s+or\s+", part.strip()) if a.strip()]
        if not alts:
            continue
        out.append(alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")")
    return out


def license_terms(
    licenses: dict[str, dict[str, Any]], downloaders: set[str], own: str
) -> list[str]:
    """``own`` (k3s-root's license) and every term of the target packages that download code,
    in the order the License: tag ANDs them."""
    terms = {own}
    for pkg, data in licenses.items():
        text = ", ".join(str(p["_part"]) for p in data.get("licenses") or [])
        if data.get("type") == "target" and pkg in downloaders and text:
            terms.update(package_terms(text, pkg))
    return sorted(terms, key=lambda t: (t.startswith("("), t))
