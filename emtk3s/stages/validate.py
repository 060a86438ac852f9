"""validate: every rendered spec parses with ``rpmspec -P`` for each target arch, and rpmlint
finds nothing beyond the filters in data/rpmlint.toml (each with its reason)."""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emtk3s.infra import stamps
from emtk3s.infra.errors import BuildError
from emtk3s.infra.paths import Project, data_file
from emtk3s.infra.rpm import tools as rpmtools
from emtk3s.stages.context import StageRun

# commands that would reach the network; none may appear in %prep, %build, %install or %check
NETWORK_COMMANDS = re.compile(
    r"\b(curl|wget|git\s+(clone|fetch|pull)|go\s+(get|mod\s+download)|pip\s+install|dnf|tdnf|yum)\b"
)


@dataclass
class LintResult:
    checked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: how each upstream license text became the spec's License: terms (a component's
    #: ``license_map`` fact: an upstream build system's own lists), what could not be mapped and what
    #: release.toml's [licenses] set instead
    licenses: list[dict[str, Any]] = field(default_factory=list)

    def license_notes(self) -> list[str]:
        """One line per license text that was not mapped as is (unknown, or overridden)."""
        out = []
        for row in self.licenses:
            if row["overridden"]:
                out.append(
                    f"license: {row['package']}: {row['text']!r} -> release.toml: {' AND '.join(row['terms'])}"
                )
            elif row["unmapped"]:
                out.append(
                    f"license: {row['package']}: {', '.join(row['unmapped'])!r} has no SPDX name "
                    f"in emtk3s -> {' AND '.join(row['terms'])} (name it in release.toml [licenses])"
                )
        return out


def license_rows(lock: Any, packages: list[str], catalog: Any) -> list[dict[str, Any]]:
    """The license_map facts of the packages' components, flattened for the result."""
    rows = []
    for pkg in packages:
        pdef = catalog.packages.get(pkg)
        if pdef is None:
            continue
        for cname in (pdef.component, *pdef.components):
            comp = lock.components.get(cname)
            for row in (comp.facts.get("license_map") or []) if comp else []:
                rows.append(
                    {
                        "package": f"{pkg}/{row['package']}",
                        "text": row["_text"],
                        "terms": [t["_term"] for t in row["terms"]],
                        "unmapped": [u["_part"] for u in row["unmapped"]],
                        "overridden": bool(row["overridden"]),
                    }
                )
    return rows


def parse_spec(spec: Path, arch: str) -> str:
    rpmtools.need("rpmspec")
    proc = subprocess.run(
        ["rpmspec", "-P", "--target", arch, *rpmtools.macro_args(), str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        msg = " ".join(proc.stderr.split())[:300]
        raise BuildError(f"{spec}: rpmspec -P --target {arch} failed: {msg}", "fix the template")
    return proc.stdout


def build_sections(parsed: str) -> str:
    """The text of %prep, %build, %install and %check from a parsed spec."""
    out, keep = [], False
    for line in parsed.splitlines():
        m = re.match(r"^%(\w+)", line)
        if m:
            keep = m.group(1) in ("prep", "build", "install", "check")
            continue
        if keep:
            out.append(line)
    return "\n".join(out)


def rpmlint(paths: list[Path]) -> str:
    return start_rpmlint(paths)()


def start_rpmlint(paths: list[Path]) -> Callable[[], str]:
    """Start one rpmlint over ``paths``; the function returned waits for it and raises a
    BuildError naming the specs it found problems in. (rpmlint's start-up is most of its cost:
    it runs once for all the specs, while the caller does other work.)"""
    rpmtools.need("rpmlint")
    proc = subprocess.Popen(
        ["rpmlint", "--strict", "-c", str(data_file("rpmlint.toml")), *map(str, paths)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def finish() -> str:
        out, err = proc.communicate()
        if proc.returncode != 0:
            named = sorted(_flagged(out)) or [p.name for p in paths]
            raise BuildError(
                f"rpmlint found problems in {', '.join(named)}",
                "fix them or add a filter with its reason to emtk3s/data/rpmlint.toml",
                details=out + err,
            )
        return out

    return finish


NAME = "validate"


#: the stamp of the EMT rules check: it reads every validated package at once (Source names
#: must not clash across packages), so its stamp is one for the set ("~" is in no package name)
RULES_STAMP = "~emt-rules"


def emt_rules(project: Project, packages: list[str]) -> None:
    """EMT's pull-request rules (emtk3s.emt.rules): a BuildError naming the rule. Skipped while
    the rules' code and every checked spec and signatures file are as they were when they
    last passed together."""
    import json

    from emtk3s import emt

    store = project.stamps
    parts: list[bytes | str] = [(Path(emt.__file__).parent / "rules.py").read_bytes()]
    for pkg in packages:
        for f in (f"{pkg}.spec", f"{pkg}.signatures.json"):
            path = project.specs / pkg / f
            parts += [f"{pkg}/{f}", path.read_bytes() if path.is_file() else b"\0"]
    key = stamps.digest(*parts)
    if store.fresh(NAME, RULES_STAMP, key) is not None:
        return

    from emtk3s.emt import rules

    names: list[tuple[str, str]] = []
    for pkg in packages:
        spec = project.specs / pkg / f"{pkg}.spec"
        found = rules.check_spec(spec.read_text(encoding="utf-8"))
        if found:
            raise BuildError(
                f"{spec}: {found[0]}",
                "fix the template (docs/emt.md lists EMT's rules)",
                details="\n".join(found),
            )
        sig = project.specs / pkg / f"{pkg}.signatures.json"
        if sig.is_file():
            names += [(pkg, n) for n in json.loads(sig.read_text()).get("Signatures", {})]
    found = rules.check_source_names(names)
    if found:
        raise BuildError(found[0], "rename the Source in its package definition", "\n".join(found))
    store.save(NAME, RULES_STAMP, key)


def validate_specs(project: Project, packages: list[str], arches: list[str]) -> LintResult:
    result = LintResult()
    cfg = data_file("rpmlint.toml").read_bytes()
    store = project.stamps
    for pkg in packages:
        if not (project.specs / pkg / f"{pkg}.spec").is_file():
            from emtk3s.infra.errors import PreconditionError

            raise PreconditionError(
                f"{project.specs / pkg / f'{pkg}.spec'}: not rendered yet",
                "run emtk3s render first (or name the packages with -p)",
            )
    emt_rules(project, packages)
    todo: dict[str, str] = {}  # package -> the key its stamp will hold
    for pkg in packages:
        spec = project.specs / pkg / f"{pkg}.spec"
        key = stamps.digest(spec.read_bytes(), cfg, ",".join(arches))
        if store.fresh(NAME, pkg, key) is not None:
            result.skipped.append(pkg)
        else:
            todo[pkg] = key
    if not todo:
        return result
    specs = {pkg: project.specs / pkg / f"{pkg}.spec" for pkg in todo}
    # every `rpmspec -P` at once (each is a process of its own), then one rpmlint for all the
    # specs: rpmlint's start-up, not its checks, was most of what validate cost
    lint = start_rpmlint(list(specs.values()))
    pairs = [(pkg, arch) for pkg in todo for arch in arches]
    try:
        parsed = _parse_all([(specs[pkg], arch) for pkg, arch in pairs])
    except BaseException:
        with contextlib.suppress(BuildError):
            lint()  # reap it; the parse error is the one to report
        raise
    for (pkg, _arch), text in zip(pairs, parsed, strict=True):
        hit = NETWORK_COMMANDS.search(build_sections(text))
        if hit:
            with contextlib.suppress(BuildError):
                lint()
            raise BuildError(
                f"{specs[pkg]}: a build section runs {hit.group(0)!r} (a network command)",
                "the RPM build chroot has no network; pre-fetch it as a Source",
            )
    try:
        lint()
    except BuildError as exc:
        flagged = _flagged(exc.details or "")
        for pkg, key in todo.items():  # what rpmlint passed stays validated
            if f"{pkg}.spec" not in flagged and flagged:
                store.save(NAME, pkg, key)
        raise
    for pkg, key in todo.items():
        store.save(NAME, pkg, key)
        result.checked.append(pkg)
    return result


#: an rpmlint finding: "<name>.spec: E: ..." or "<name>.spec:12: W: ..."
_FINDING = re.compile(r"^(\S+?\.spec)(?::\d+)?: [EW]: ", re.MULTILINE)


def _flagged(output: str) -> set[str]:
    """The spec file names rpmlint reported a finding for."""
    return {Path(m.group(1)).name for m in _FINDING.finditer(output)}


def _parse_all(jobs: list[tuple[Path, str]]) -> list[str]:
    """``rpmspec -P`` of each (spec, arch), several at once; the first failure (in the order
    given) is raised."""
    if len(jobs) <= 1:
        return [parse_spec(spec, arch) for spec, arch in jobs]
    import os
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(len(jobs), max(2, os.cpu_count() or 1))) as pool:
        futures = [pool.submit(parse_spec, spec, arch) for spec, arch in jobs]
        return [f.result() for f in futures]


def run(r: StageRun) -> LintResult:
    lock = r.need_lock()
    packages = list(r.options.packages) or sorted(lock.packages)
    if r.chained:
        packages = [p for p in packages if p not in r.unrendered]
    result = validate_specs(r.project, packages, list(r.release.arches))
    result.licenses = license_rows(lock, packages, r.release.catalog)
    return result
