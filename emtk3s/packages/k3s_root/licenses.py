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


#: a license name buildroot uses that is made of several words (never split apart)
_MULTI_WORD = ("Public Domain",)
#: what an SPDX expression in release.toml's [licenses] may hold
_EXPRESSION = re.compile(r"^[A-Za-z0-9.+-]+(?:\s+(?:AND|OR|WITH)\s+[A-Za-z0-9.+-]+)*$|^\(.*\)$")


def spdx_term(name: str, pkg: str = "") -> str | None:
    """buildroot's name for a license -> its SPDX term; None when emtk3s does not know it."""
    name = name.strip()
    if name in SPDX:
        return SPDX[name]
    if name in ("MIT", "ISC", "Zlib", "Apache-2.0") or re.fullmatch(r"BSD-[234]-Clause", name):
        return name
    return None


def unmapped_term(name: str) -> str:
    """The SPDX LicenseRef a license string emtk3s does not know becomes (it never stops a
    release: validate lists it, release.toml's [licenses] can name the package's licenses)."""
    return "LicenseRef-buildroot-" + (re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-") or "unknown")


def _part_terms(part: str) -> tuple[list[str], list[str]]:
    """One comma-separated part -> (terms, names emtk3s could not map). ``A or B`` -> one
    (A OR B) term; ``ISC MIT`` (a comma missing upstream, buildroot 2025.02.5's util-linux)
    -> ISC, MIT: each word a license emtk3s knows."""
    alts = [a.strip() for a in re.split(r"\s+or\s+", part.strip()) if a.strip()]
    if not alts:
        return [], []
    mapped = [spdx_term(a) for a in alts]
    if all(mapped):
        terms = [t for t in mapped if t]
        return ([terms[0]] if len(terms) == 1 else ["(" + " OR ".join(terms) + ")"]), []
    if len(alts) == 1 and alts[0] not in _MULTI_WORD:
        words = [spdx_term(w) for w in alts[0].split()]
        if len(words) > 1 and all(words):
            return [w for w in words if w], []
    return [unmapped_term(part.strip())], [part.strip()]


def package_terms(text: str, pkg: str) -> list[str]:
    """`GPL-2.0+, BSD-4-Clause, LGPL-2.1+ (libblkid), ...` -> SPDX terms; `A or B` -> (A OR B);
    a name emtk3s does not know becomes a LicenseRef (see :func:`mapping`)."""
    out: list[str] = []
    for part in _ANNOTATION.sub("", text).split(","):
        for t in _part_terms(part)[0]:
            if t not in out:
                out.append(t)
    return out


def override_terms(expression: str, where: str) -> list[str]:
    """release.toml's [licenses] value for a package: an SPDX expression, ANDed as terms."""
    expression = expression.strip()
    if not _EXPRESSION.match(expression) or any(c in expression for c in "%$`\\;\n"):
        raise InputError(
            f"{where}: {expression[:60]!r} is not an SPDX license expression",
            'e.g. "GPL-2.0-or-later AND MIT"',
        )
    if expression.startswith("(") or " OR " in expression or " WITH " in expression:
        return [expression if expression.startswith("(") else f"({expression})"]
    return [t.strip() for t in expression.split(" AND ")]


def mapping(
    licenses: dict[str, dict[str, Any]], downloaders: set[str], overrides: dict[str, str]
) -> list[dict[str, Any]]:
    """For each target package that downloads code: buildroot's text, the terms emtk3s made of
    it, what it could not map, and whether release.toml's [licenses] set it instead."""
    rows = []
    for pkg, data in sorted(licenses.items()):
        text = ", ".join(str(p["_part"]) for p in data.get("licenses") or [])
        if data.get("type") != "target" or pkg not in downloaders or not text:
            continue
        unmapped: list[str] = []
        terms: list[str] = []
        for part in _ANNOTATION.sub("", text).split(","):
            t, u = _part_terms(part)
            terms += [x for x in t if x not in terms]
            unmapped += u
        overridden = pkg in overrides
        if overridden:
            terms = override_terms(overrides[pkg], f"release.toml [licenses] {pkg}")
        rows.append(
            {
                "package": pkg,
                "text": text,
                "terms": terms,
                "unmapped": [] if overridden else unmapped,
                "overridden": overridden,
            }
        )
    return rows


def license_terms(
    licenses: dict[str, dict[str, Any]],
    downloaders: set[str],
    own: str,
    overrides: dict[str, str] | None = None,
) -> list[str]:
    """``own`` (k3s-root's license) and every term of the target packages that download code,
    in the order the License: tag ANDs them (release.toml's [licenses] wins per package)."""
    terms = {own}
    for row in mapping(licenses, downloaders, overrides or {}):
        terms.update(row["terms"])
    return sorted(terms, key=lambda t: (t.startswith("("), t))
