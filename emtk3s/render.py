"""render: lock + templates/ -> SPECS/<pkg>/ (spec, signatures.json, patches).

Jinja2 with StrictUndefined. Every value that enters a template is checked first: a value that
carries a newline, a ``%`` (a macro), a backquote or a ``$`` is refused, never escaped.
"""

from __future__ import annotations

import difflib
import json
import posixpath
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from . import packages as pkgs
from . import validate
from .errors import DriftError, InputError
from .fsutil import clean_stale, replace_dir
from .lock import Lock
from .manifest import Release

_SAFE_VALUE = re.compile(r"^[^\x00-\x1f\x7f%`$\\]*$")
SPEC_HEADER = "# Rendered by emtk3s from templates/{tpl}/; edit the template, not this file.\n"


def check_values(value: Any, where: str = "context") -> None:
    """Refuse any string that could carry spec or shell syntax into a template."""
    if isinstance(value, str):
        if not _SAFE_VALUE.match(value):
            raise InputError(
                f"value {value[:60]!r} for {where} carries a newline, %, `, $ or \\",
                "such a value could inject spec syntax; fix the input (release.toml or the lock)",
            )
    elif isinstance(value, dict):
        for k, v in value.items():
            check_values(k, where)
            check_values(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            check_values(v, f"{where}[{i}]")
    elif value is None or isinstance(value, bool | int | float):
        return
    else:
        raise InputError(f"{where}: unexpected value type {type(value).__name__}", "")


def changelog_date(epoch: int) -> str:
    return time.strftime("%a %b %d %Y", time.gmtime(epoch))


def spec_source_url(upstream_url: str, name: str) -> str:
    base = posixpath.basename(upstream_url.split("?", 1)[0])
    return upstream_url if base == name else f"{upstream_url}#/{name}"


@dataclass
class Rendered:
    package: str
    files: dict[str, bytes] = field(default_factory=dict)


def _environment(templates: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def context(release: Release, lock: Lock, pdef: pkgs.PackageDef, patches: list[str]) -> dict[str, Any]:
    plock = lock.packages.get(pdef.name)
    if plock is None:
        raise InputError(f"package {pdef.name} is not in the lock", "run emtk3s resolve")
    comp = lock.components[plock.component]
    if comp.commit is None or comp.commit_time is None:
        raise InputError(
            f"{pdef.name}: upstream {comp.repo} {comp.tag} has no verified commit in the lock",
            "run emtk3s resolve --refresh with network access or a mirror",
        )
    unpinned = [s.name for s in plock.sources if s.sha256 is None]
    if unpinned:
        raise InputError(
            f"{pdef.name}: source {unpinned[0]} is not pinned yet (no sha256 in the lock)",
            "run emtk3s fetch to download and pin it, then render",
        )
    evr = f"{plock.version}-{release.release}"
    ctx: dict[str, Any] = {
        "pkg": {
            "name": pdef.name,
            "version": plock.version,
            "release": release.release,
            "summary": pdef.summary,
        },
        "component": {
            "name": comp.name,
            "repo": comp.repo,
            "tag": comp.tag,
            "commit": comp.commit,
            "commit_time": comp.commit_time,
            "facts": comp.facts,
        },
        "k3s": {"tag": lock.k3s},
        "arches": list(release.arches),
        "sources": [
            {
                "index": i,
                "name": s.name,
                "url": spec_source_url(s.upstream_url, s.name),
                "sha256": s.sha256,
            }
            for i, s in enumerate(plock.sources)
        ],
        "patches": [{"index": i, "name": n} for i, n in enumerate(patches)],
        "changelog": [
            {
                "date": changelog_date(comp.commit_time),
                "author": release.changelog.author,
                "email": release.changelog.email,
                "evr": evr,
                "lines": [
                    f"Original version for Edge Microvisor Toolkit, from {comp.repo} {comp.tag}.",
                    "License verified.",
                ],
            }
        ],
    }
    check_values(ctx)
    for p in patches:
        validate.file_name(p, "patch name")
    return ctx


def render_package(release: Release, lock: Lock, pdef: pkgs.PackageDef, templates: Path) -> Rendered:
    tdir = templates / pdef.template_dir
    spec_tpl = f"{pdef.template_dir}/{pdef.name}.spec.j2"
    if not (templates / spec_tpl).is_file():
        raise InputError(f"{templates / spec_tpl}: template missing", "restore templates/ from git")
    patches = sorted(p.name for p in tdir.glob("*.patch"))
    ctx = context(release, lock, pdef, patches)
    try:
        text = _environment(templates).get_template(spec_tpl).render(**ctx)
    except jinja2.UndefinedError as exc:
        raise InputError(f"{spec_tpl}: {exc.message}", "the template uses an undefined value") from None
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(f"{spec_tpl}:{exc.lineno}: {exc.message}", "fix the template") from None
    out = Rendered(pdef.name)
    out.files[f"{pdef.name}.spec"] = (SPEC_HEADER.format(tpl=pdef.template_dir) + text).encode()
    sigs = {"Signatures": {s["name"]: s["sha256"] for s in ctx["sources"]}}
    out.files[f"{pdef.name}.signatures.json"] = (json.dumps(sigs, indent=2, sort_keys=True) + "\n").encode()
    for p in patches:
        out.files[p] = (tdir / p).read_bytes()
    return out


@dataclass
class RenderResult:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    drift: dict[str, str] = field(default_factory=dict)  # package -> unified diff

    def to_dict(self) -> dict[str, Any]:
        return {"written": self.written, "unchanged": self.unchanged, "drift": sorted(self.drift)}


def _diff(target: Path, files: dict[str, bytes]) -> str:
    lines: list[str] = []
    names = set(files) | ({p.name for p in target.iterdir()} if target.is_dir() else set())
    for name in sorted(names):
        have_path = target / name
        have = have_path.read_bytes() if have_path.is_file() else b""
        want = files.get(name, b"")
        if have != want:
            lines += difflib.unified_diff(
                have.decode(errors="replace").splitlines(keepends=True),
                want.decode(errors="replace").splitlines(keepends=True),
                f"SPECS/{target.name}/{name} (committed)",
                f"SPECS/{target.name}/{name} (rendered)",
            )
    return "".join(lines)


def render(
    release: Release,
    lock: Lock,
    templates: Path,
    specs_dir: Path,
    packages: list[str] | None = None,
    check: bool = False,
) -> RenderResult:
    result = RenderResult()
    for pdef in pkgs.select(packages or sorted(lock.packages)):
        out = render_package(release, lock, pdef, templates)
        target = specs_dir / pdef.name
        if check:
            diff = _diff(target, out.files)
            if diff:
                result.drift[pdef.name] = diff
            else:
                result.unchanged.append(pdef.name)
            continue
        clean_stale(specs_dir, pdef.name)
        if replace_dir(target, out.files):
            result.written.append(pdef.name)
        else:
            result.unchanged.append(pdef.name)
    if check and result.drift:
        names = ", ".join(sorted(result.drift))
        raise DriftError(
            f"SPECS/ drifted from templates/ for {names}",
            "run emtk3s render and commit SPECS/ (the diff is printed above)",
            details="".join(result.drift[n] for n in sorted(result.drift)),
        )
    return result
