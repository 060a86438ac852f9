"""EMT's pull-request rules for a spec, checked by emtk3s's own validate stage (no EMT checkout
needed). Each finding names its rule; docs/emt.md lists them with the EMT check each stands for.

- emt-attribution: the changelog says where the spec comes from in the words EMT's
  ``spec_source_attributions.py`` accepts for an original spec: a line exactly
  ``- Original version for Edge Microvisor Toolkit.`` (optionally `` (license: MIT)``) —
  check-spec.yml and check-license-map.yml.
- emt-linter-layout: the layout EMT's patched spec-cleaner keeps (lint-specs.yml fails on any
  diff): the main preamble in the linter's order (%bcond, tags, Source/Patch, %global/%define and
  their %if blocks, BuildRequires, Requires, BuildArch/ExclusiveArch), BuildRequires and Requires
  sorted, no blank line inside it, no literal /usr, /etc or /var outside %changelog (the linter
  turns them into macros, some wrongly: ``/usr/lib/tmpfiles.d`` becomes ``%{_lib}/tmpfiles.d``;
  write ``%{_usr}/lib/tmpfiles.d``).
- emt-linter-changelog: every line of the newest %changelog entry starts with "- " (the linter
  drops the others), and no spec carries ``#nospeccleaner`` (the linter's opt-out: EMT's CI
  would skip the spec; no EMT spec uses it). The linter also drops a lone first entry — its
  own defect, which ``emt integrate --check`` reports as such (emtk3s.emt.emtci).
- emt-unique-source-basename: EMT's source server keys files by basename alone: every Source
  basename is unique and carries a version (no bare LICENSE or README.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ATTRIBUTION = re.compile(
    r"\n-\s+Original version for Edge Microvisor Toolkit( \(license: MIT\))?(\.|\n|$)"
)
SKIP_LINTER = re.compile(r"^#\s*nospeccleaner\s*$", re.I | re.M)

# the linter's order of the main preamble; each line's category by its first word
ORDER = (
    "bcond",
    "summary",
    "name",
    "version",
    "release",
    "epoch",
    "license",
    "vendor",
    "distribution",
    "group",
    "url",
    "source",
    "patch",
    "define",
    "buildrequires",
    "buildconflicts",
    "requires",
    "requires_phase",
    "recommends",
    "suggests",
    "conflicts",
    "provides_obsoletes",
    "buildarch",
    "exclusivearch",
    "excludearch",
)
_TAGS = {
    "summary": "summary",
    "name": "name",
    "version": "version",
    "release": "release",
    "epoch": "epoch",
    "license": "license",
    "vendor": "vendor",
    "distribution": "distribution",
    "group": "group",
    "url": "url",
    "buildrequires": "buildrequires",
    "buildconflicts": "buildconflicts",
    "requires": "requires",
    "recommends": "recommends",
    "suggests": "suggests",
    "conflicts": "conflicts",
    "provides": "provides_obsoletes",
    "obsoletes": "provides_obsoletes",
    "buildarch": "buildarch",
    "exclusivearch": "exclusivearch",
    "excludearch": "excludearch",
}
# literal directories the linter rewrites as macros (its replace_known_dirs)
LITERAL_DIRS = re.compile(
    r'(?<![\w%{}])/usr(?=[/\s%"]|$)|/etc(?=[/\s%"]|$)|/var(?=[/\s%"]|$)', re.M
)
LIB_AFTER_PREFIX = re.compile(
    r'%\{?_prefix\}?/(lib|lib64|libexec|include|share|bin|sbin)(?=[/\s%"]|$)'
)
SECTION = re.compile(
    r"^%(description|package|prep|build|install|check|files|changelog|pre|post|preun|postun"
    r"|pretrans|posttrans|triggerin|triggerun|clean)\b"
)


def _category(line: str) -> str | None:
    s = line.strip()
    if not s or s.startswith("#"):
        return None
    if s.startswith(("%bcond", "%{!?with")):
        return "bcond"
    if s.startswith(("%global", "%define", "%{!?")) or re.match(r"%(if|else|elif|endif)", s):
        return "define"
    m = re.match(r"([A-Za-z]+)(\([^)]*\))?\d*\s*:", s)
    if not m:
        return None
    tag = m.group(1).lower()
    if tag in ("source", "patch"):
        return tag
    if tag == "requires" and m.group(2):
        return "requires_phase"
    return _TAGS.get(tag)


def _main_preamble(lines: list[str]) -> list[tuple[int, str]]:
    out = []
    for i, line in enumerate(lines):
        if SECTION.match(line):
            break
        out.append((i, line))
    return out


def _changelog(text: str) -> str:
    i = text.find("\n%changelog")
    return text[i:] if i >= 0 else ""


def layout(text: str) -> list[str]:
    lines = text.splitlines()
    pre = _main_preamble(lines)
    out: list[str] = []
    seen_tag = False
    last = -1
    last_line = ""
    values: dict[str, list[str]] = {"buildrequires": [], "requires": []}
    pending_blank = 0
    misordered = False
    for i, line in pre:
        cat = _category(line)
        if not line.strip():
            pending_blank = i + 1 if seen_tag else 0
            continue
        if cat is None:
            continue
        if pending_blank and seen_tag:
            out.append(f"line {pending_blank}: a blank line inside the main preamble")
        pending_blank = 0
        seen_tag = True
        idx = ORDER.index(cat)
        if idx < last and not misordered:  # the first one says enough
            misordered = True
            out.append(
                f"line {i + 1}: {line.split()[0]} after {last_line.split()[0]} "
                "(order: %bcond, tags, Source, %global, BuildRequires, Requires, BuildArch)"
            )
        if idx >= last:
            last, last_line = idx, line
        if cat in values:
            values[cat].append(line.split(":", 1)[1].strip())
    for cat, vals in values.items():
        if vals != sorted(vals):
            out.append(f"{cat} not sorted: {', '.join(vals)}")
    # each subpackage's dependency tags are sorted too, and every section starts after a blank
    block: dict[str, list[str]] = {}
    for n, line in enumerate(lines):
        if line.startswith("%package"):
            block = {}
        m = re.match(r"(BuildRequires|Requires|Conflicts|Provides|Obsoletes):\s*(.*)$", line)
        if m:
            block.setdefault(m.group(1), []).append(m.group(2))
            vals = block[m.group(1)]
            if len(vals) > 1 and vals[-2] > vals[-1] and n > len(pre):
                out.append(f"line {n + 1}: {m.group(1)} not sorted ({vals[-2]} before {vals[-1]})")
        if (
            SECTION.match(line)
            and n > 0
            and lines[n - 1].strip()
            and not line.startswith("%changelog")
        ):
            prev = lines[n - 1]
            if not prev.startswith(("%if", "%endif", "%else", "#")):
                out.append(f"line {n + 1}: no blank line before {line.split()[0]}")
    body = text[: text.find("\n%changelog")] if "\n%changelog" in text else text
    header = True  # the linter keeps the spec's leading comment block as written
    for n, line in enumerate(body.splitlines(), 1):
        header = header and line.startswith("#")
        if header:
            continue
        for m in (LITERAL_DIRS.search(line), LIB_AFTER_PREFIX.search(line)):
            if m:
                out.append(f"line {n}: literal {m.group(0)!r} (the linter rewrites it as a macro)")
    return out


def changelog_entries(text: str) -> int:
    return len(re.findall(r"^\*", _changelog(text), re.M))


def check_spec(text: str) -> list[str]:
    """Every finding in a rendered spec, each starting with its rule's name."""
    out = []
    if not ATTRIBUTION.search(_changelog(text)):
        out.append(
            "rule emt-attribution: no changelog line '- Original version for Edge Microvisor "
            "Toolkit.' (check_spec_guidelines.py rejects the spec, license_map.py cannot place it)"
        )
    out += [f"rule emt-linter-layout: {f}" for f in layout(text)]
    if SKIP_LINTER.search(text):
        out.append(
            "rule emt-linter-changelog: #nospeccleaner makes EMT's lint-specs.yml skip the spec "
            "(no EMT spec bypasses the linter)"
        )
    log = _changelog(text).splitlines()
    start = next((i for i, ln in enumerate(log) if ln.startswith("*")), len(log))
    log = log[start + 1 :]  # the newest entry's lines, up to the next header
    first = log[: next((i for i, ln in enumerate(log) if ln.startswith("*")), len(log))]
    for ln in first:
        if ln.strip() and not ln.startswith("- "):
            out.append(
                f"rule emt-linter-changelog: {ln.strip()[:40]!r} in the newest entry does not "
                "start with '- ' (the linter drops such lines)"
            )
    return out


def check_source_names(sources: Iterable[tuple[str, str]]) -> list[str]:
    """(package, basename) pairs across the release -> findings."""
    out: list[str] = []
    seen: dict[str, str] = {}
    for pkg, name in sources:
        if name in seen and seen[name] != pkg:
            out.append(
                f"rule emt-unique-source-basename: {name} is a Source of {seen[name]} and {pkg}"
            )
        seen[name] = pkg
        if not re.search(r"\d", name):
            out.append(
                f"rule emt-unique-source-basename: {pkg}: Source {name} carries no version "
                "(EMT's source server keys by basename; name it <package>-<version>-...)"
            )
    return out
