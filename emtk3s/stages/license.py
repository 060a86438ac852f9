"""license-check: each package's License: tag against its primary source (see
:mod:`emtk3s.model.licenses`); the current changelog entry says "License verified." only after
this check passed for that very EVR.

As a stage of ``all`` (after render: the changelog entry of the EVR exists then) it checks every
rendered package whose sources are in the cache, records the results and renders again the
packages whose entry changed. There a package it cannot check (sources not cached, licensecheck
absent) or whose tag the source contradicts is reported, not fatal: its entry then lacks
"License verified." and EMT's check-spec.yml names it. ``emtk3s license-check`` is strict."""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from emtk3s.infra import stamps
from emtk3s.infra.errors import InputError, PreconditionError
from emtk3s.infra.paths import Project
from emtk3s.infra.safetar import safe_extract
from emtk3s.model import changelog
from emtk3s.model.licenses import LicenseCheck, check, spec_license
from emtk3s.model.lock import Lock
from emtk3s.stages.context import StageRun

NAME = "license"


@dataclass
class LicenseResult:
    packages: list[LicenseCheck] = field(default_factory=list)
    changelog_changed: list[str] = field(default_factory=list)  # entries now say so
    #: package -> why it was not checked (run by ``all``: not rendered, sources not cached)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def unverified(self) -> dict[str, str]:
        """package -> what keeps its License: tag from being verified."""
        return {c.package: "; ".join(c.differs) for c in self.packages if not c.verified}


def check_package(project: Project, lock: Lock, pkg: str) -> LicenseCheck:
    spec = project.specs / pkg / f"{pkg}.spec"
    if not spec.is_file():
        raise PreconditionError(f"{spec}: not rendered yet", "run emtk3s render first")
    tag = spec_license(spec.read_text(encoding="utf-8"))
    sources = lock.packages[pkg].sources
    for src in sources:
        if src.sha256 is None or not project.cache.has(src.sha256, src.name):
            raise PreconditionError(
                f"{pkg}/{src.name} is not in the cache {project.cache.root}",
                "run emtk3s fetch first",
            )
    # the result is kept under a stamp of the tag, the sources and the checking code: an
    # up-to-date run extracts nothing and writes nothing
    from emtk3s.model import licenses

    key = stamps.digest(
        Path(__file__).read_bytes(),
        Path(licenses.__file__).read_bytes(),
        shutil.which("licensecheck") or "",  # a check made without it is made again with it
        tag,
        *[f"{s.name}={s.sha256}" for s in sources],
    )
    stamp = project.stamps.fresh(NAME, pkg, key)
    if stamp is not None and isinstance(stamp.get("result"), dict):
        try:
            return LicenseCheck(**stamp["result"])
        except TypeError:  # a stamp of another shape: check again
            pass
    scratch = project.work
    scratch.mkdir(parents=True, exist_ok=True)
    tree = Path(tempfile.mkdtemp(prefix=f"license-{pkg}-", dir=scratch))
    try:
        first = project.cache.get(sources[0].sha256 or "", sources[0].name)
        if tarfile.is_tarfile(first):  # the upstream source archive: its tree is the package's
            safe_extract(first, tree)
        else:  # a package made of single files (helper scripts, a license): those files
            for src in sources:
                shutil.copyfile(project.cache.get(src.sha256 or "", src.name), tree / src.name)
        result = check(pkg, tag, tree)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    project.stamps.save(NAME, pkg, key, result=asdict(result))
    return result


def record(history: changelog.History, pkg: str, evr: str, verified: bool) -> bool:
    """Put (or take back) "License verified." in the entry for ``evr``; True if it changed."""
    for e in history.get(pkg, []):
        if e.get("evr") == evr:
            lines = [ln for ln in e["lines"] if ln != changelog.LICENSE_VERIFIED]
            if verified:
                lines.append(changelog.LICENSE_VERIFIED)
            changed = bool(lines != e["lines"])
            e["lines"] = lines
            return changed
    raise PreconditionError(
        f"{pkg}: changelog.json has no entry for {evr}", "run emtk3s render first"
    )


def license_check(
    project: Project, lock: Lock, release_no: int, packages: list[str]
) -> LicenseResult:
    history = changelog.load_history(project.root)
    results = [check_package(project, lock, p) for p in packages]
    changed = []
    for r in results:
        evr = f"{lock.packages[r.package].version}-{release_no}"
        if record(history, r.package, evr, r.verified):
            changed.append(r.package)
    if changed:
        changelog.save_history(project.root, history)
    return LicenseResult(results, changed)


def run(r: StageRun) -> LicenseResult:
    """Check the named packages (default: every rendered one); re-render those whose changelog
    entry changed; an InputError (with the result) when a License: tag misses a license."""
    from emtk3s.stages import render

    p, lock = r.project, r.need_lock()
    names = list(r.options.packages) or [n for n in sorted(lock.packages) if (p.specs / n).is_dir()]
    if r.chained:
        return _in_chain(r, lock, names)
    out = license_check(p, lock, r.release.release, names)
    if out.changelog_changed:
        history = changelog.load_history(p.root)
        render.render(r.release, lock, p, out.changelog_changed, history=history)
    failed = [c for c in out.packages if not c.verified]
    if failed:
        err = InputError(
            "license check failed: "
            + "; ".join(f"{c.package}: {', '.join(c.differs)}" for c in failed),
            "make the template's License: tag name every license of the source",
        )
        err.result = out
        raise err
    return out


def _in_chain(r: StageRun, lock: Lock, names: list[str]) -> LicenseResult:
    """The stage of ``all``: what can be checked is, and nothing stops the chain."""
    from emtk3s.stages import render

    p = r.project
    out = LicenseResult()
    history = changelog.load_history(p.root)
    for pkg in names:
        if pkg in r.unrendered or not (p.specs / pkg / f"{pkg}.spec").is_file():
            out.skipped[pkg] = r.unrendered.get(pkg, "not rendered")
            continue
        if pkg in r.uncached:
            out.skipped[pkg] = f"sources not in the cache ({r.uncached[pkg]})"
            continue
        # check_package keeps each verdict under its own stamp: a no-op all unpacks and
        # writes nothing
        evr = f"{lock.packages[pkg].version}-{r.release.release}"
        try:
            result = check_package(p, lock, pkg)
            if record(history, pkg, evr, result.verified):
                out.changelog_changed.append(pkg)
        except PreconditionError as exc:
            out.skipped[pkg] = str(exc)
            continue
        out.packages.append(result)
    if out.changelog_changed:
        changelog.save_history(p.root, history)
        render.render(r.release, lock, p, out.changelog_changed, history=history)
    return out
