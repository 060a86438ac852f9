"""validate: every rendered spec parses with ``rpmspec -P`` for each target arch, and rpmlint
finds nothing beyond the filters in data/rpmlint.toml (each with its reason)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

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
    rpmtools.need("rpmlint")
    proc = subprocess.run(
        ["rpmlint", "--strict", "-c", str(data_file("rpmlint.toml")), *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BuildError(
            f"rpmlint found problems in {', '.join(p.name for p in paths)}",
            "fix them or add a filter with its reason to emtk3s/data/rpmlint.toml",
            details=proc.stdout + proc.stderr,
        )
    return proc.stdout


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
    for pkg in packages:
        spec = project.specs / pkg / f"{pkg}.spec"
        key = stamps.digest(spec.read_bytes(), cfg, ",".join(arches))
        if store.fresh(NAME, pkg, key) is not None:
            result.skipped.append(pkg)
            continue
        for arch in arches:
            parsed = parse_spec(spec, arch)
            hit = NETWORK_COMMANDS.search(build_sections(parsed))
            if hit:
                raise BuildError(
                    f"{spec}: a build section runs {hit.group(0)!r} (a network command)",
                    "the RPM build chroot has no network; pre-fetch it as a Source",
                )
        rpmlint([spec])
        store.save(NAME, pkg, key)
        result.checked.append(pkg)
    return result


def run(r: StageRun) -> LintResult:
    lock = r.need_lock()
    packages = list(r.options.packages) or sorted(lock.packages)
    if r.chained:
        packages = [p for p in packages if p not in r.unrendered]
    return validate_specs(r.project, packages, list(r.release.arches))
