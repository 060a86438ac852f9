"""Is a spec's ``License:`` tag true to its source? Only then may the changelog say so.

Two well-kept tools, no hand-made text matching:
- ``license-expression`` (PyPI, aboutcode.org; pure Python, installs in a second, ships the SPDX
  license list) parses and validates the tag as an SPDX expression and gives its license keys;
- ``licensecheck`` (Debian's license identifier, one apt package, a few seconds to install, no
  multi-hundred-MB data set as scancode-toolkit has) names the license of each license file
  and source file, in SPDX short names (``--shortname-scheme=spdx``).

The check passes when the tag is a valid SPDX expression and every license found in the files
that end up in the package (license files, sources; not the build system's own files) is one
of the tag's licenses. A license text alone does not say "only" or "or later" (GPL-2 from a
COPYING file): it matches either form of that version.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

#: build-system and repository files whose license is not the package's
_SKIP_DIRS = {"m4", "build-aux", "rpm", "contrib", "tests", "test", "hack", "docs", ".github"}
_SKIP_FILE = re.compile(
    r"^(configure.*|Makefile.*|.*\.m4|.*\.am|.*\.in|.*\.spec.*|aclocal.*|install-sh|"
    r"missing|depcomp|compile|config\.(guess|sub)|ltmain\.sh|autogen\.sh)\Z"
)
#: a license file, also under a namespaced name (EMT's source server: <pkg>-<version>-LICENSE)
_LICENSE_FILE = re.compile(r"^(.*[-_.])?(LICEN[CS]E|COPYING|COPYRIGHT|NOTICE)([.\-_].*)?\Z", re.I)
#: SPDX's user-defined license reference (SPDX spec, annex "LicenseRef-[idstring]")
_LICENSE_REF = re.compile(r"LicenseRef-[A-Za-z0-9.\-]+")
_BARE_GPL = re.compile(r"^(A|L)?GPL-\d(\.\d)?\Z")


@dataclass
class LicenseCheck:
    package: str
    tag: str
    verified: bool
    found: dict[str, list[str]] = field(default_factory=dict)  # license -> files
    differs: list[str] = field(default_factory=list)  # what keeps the check from passing
    unidentified: list[str] = field(default_factory=list)  # license files licensecheck cannot name

    def line(self) -> str:
        """The changelog line: EMT's "License verified." only when the check passed."""
        if self.verified:
            return "License verified."
        return "License not verified: " + "; ".join(self.differs) + "."


def spec_license(spec_text: str) -> str:
    m = re.search(r"^License:\s*(.+?)\s*$", spec_text, re.M)
    return m.group(1) if m else ""


def _tag_keys(tag: str) -> tuple[set[str], str]:
    """The SPDX keys of the tag, or an error text."""
    from license_expression import get_spdx_licensing

    licensing = get_spdx_licensing()
    info = licensing.validate(tag, strict=True)
    # SPDX lets a document name a license of its own as LicenseRef-<idstring>; the license
    # list cannot know those keys, so only their form is checked
    unknown = (
        [s for s in info.invalid_symbols if not _LICENSE_REF.fullmatch(str(s))]
        if info.invalid_symbols
        else []
    )
    errors = [e for e in info.errors if not e.startswith("Unknown license key(s)")]
    if unknown:
        errors.append("Unknown license key(s): " + ", ".join(map(str, unknown)))
    if errors:
        return set(), "; ".join(errors)
    parsed = licensing.parse(tag)
    return {str(k) for k in licensing.license_keys(parsed)}, ""


def _covered(found: str, keys: set[str]) -> bool:
    if found in keys:
        return True
    if _BARE_GPL.fullmatch(found):
        base = found if "." in found else found + ".0"
        return bool({f"{base}-only", f"{base}-or-later", f"{base}+"} & keys)
    from license_expression import get_spdx_licensing

    licensing = get_spdx_licensing()
    try:
        parsed = licensing.parse(found, validate=True)
    except Exception:  # licensecheck names a license SPDX has no key for
        return False
    return {str(k) for k in licensing.license_keys(parsed)} <= keys


def _relevant(rel: Path) -> bool:
    if _LICENSE_FILE.fullmatch(rel.name):
        return True
    if any(part in _SKIP_DIRS for part in rel.parts[:-1]):
        return False
    return not _SKIP_FILE.fullmatch(rel.name)


def identify(tree: Path) -> tuple[dict[str, list[str]], list[str]]:
    """licensecheck over the tree: license -> files, and license files it could not name."""
    exe = shutil.which("licensecheck")
    assert exe is not None
    proc = subprocess.run(
        [exe, "--recursive", "--machine", "--shortname-scheme=spdx", "--check=.", "--", "."],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    found: dict[str, list[str]] = {}
    unidentified: list[str] = []
    for row in proc.stdout.splitlines():
        name, _, lic = row.partition("\t")
        rel = Path(name.removeprefix("./"))
        if not _relevant(rel):
            continue
        lic = lic.strip()
        if lic in ("", "UNKNOWN") or lic.startswith("*"):
            if _LICENSE_FILE.fullmatch(rel.name):
                unidentified.append(str(rel))
            continue
        for one in re.split(r"\s+(?:and/or|and|or)\s+", lic):
            found.setdefault(one.strip(), []).append(str(rel))
    return {k: sorted(v) for k, v in sorted(found.items())}, sorted(unidentified)


def check(package: str, tag: str, tree: Path) -> LicenseCheck:
    res = LicenseCheck(package, tag, verified=False)
    keys, error = _tag_keys(tag) if tag else (set(), "no License: tag")
    if error:
        res.differs.append(f"License: {tag!r} is not a valid SPDX expression ({error})")
        return res
    if shutil.which("licensecheck") is None:
        res.differs.append("licensecheck is not installed (apt-get install licensecheck)")
        return res
    res.found, res.unidentified = identify(tree)
    if not res.found:
        res.differs.append("no license identified in the source")
    for lic, files in res.found.items():
        if not _covered(lic, keys):
            more = f" and {len(files) - 1} more" if len(files) > 1 else ""
            res.differs.append(f"{lic} in {files[0]}{more} is not in License: {tag}")
    res.verified = not res.differs
    return res
