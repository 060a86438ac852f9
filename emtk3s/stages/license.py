"""license-check: each package's License: tag against its primary source (see
:mod:`emtk3s.model.licenses`); the current changelog entry says "License verified." only after
this check passed for that very EVR.

As a stage of ``all`` it runs after render (the changelog entry of the EVR exists then) on every
rendered package whose sources are in the cache, records the result in changelog.json and
renders again the packages whose entry changed. A package it cannot check (sources not
cached, licensecheck absent) or whose tag the source contradicts is reported, not fatal: its
entry then lacks "License verified." and EMT's check-spec.yml names it."""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emtk3s.infra.errors import PreconditionError
from emtk3s.infra.paths import Project
from emtk3s.infra.safetar import safe_extract
from emtk3s.model import changelog
from emtk3s.model.licenses import LicenseCheck, check, spec_license
from emtk3s.model.lock import Lock
from emtk3s.stages.context import StageRun

NAME = "license"


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
        return check(pkg, tag, tree)
    finally:
        shutil.rmtree(tree, ignore_errors=True)


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
) -> dict[str, Any]:
    history = changelog.load_history(project.root)
    results = [check_package(project, lock, p) for p in packages]
    changed = []
    for r in results:
        evr = f"{lock.packages[r.package].version}-{release_no}"
        if record(history, r.package, evr, r.verified):
            changed.append(r.package)
    if changed:
        changelog.save_history(project.root, history)
    return {"packages": [r.to_dict() for r in results], "changelog_changed": changed}


@dataclass
class LicenseStageResult:
    verified: list[str] = field(default_factory=list)
    #: package -> what keeps its License: tag from being verified
    unverified: dict[str, str] = field(default_factory=dict)
    #: package -> why it was not checked (not rendered, sources not cached)
    skipped: dict[str, str] = field(default_factory=dict)
    changelog_changed: list[str] = field(default_factory=list)


def run(r: StageRun) -> LicenseStageResult:
    from emtk3s.stages import render

    project, lock = r.project, r.need_lock()
    res = LicenseStageResult()
    wanted = list(r.options.packages) or sorted(lock.packages)
    history = changelog.load_history(project.root)
    for pkg in wanted:
        if pkg in r.unrendered or not (project.specs / pkg / f"{pkg}.spec").is_file():
            res.skipped[pkg] = r.unrendered.get(pkg, "not rendered")
            continue
        if pkg in r.uncached:
            res.skipped[pkg] = f"sources not in the cache ({r.uncached[pkg]})"
            continue
        try:
            result = check_package(project, lock, pkg)
        except PreconditionError as exc:
            res.skipped[pkg] = str(exc)
            continue
        evr = f"{lock.packages[pkg].version}-{r.release.release}"
        try:
            if record(history, pkg, evr, result.verified):
                res.changelog_changed.append(pkg)
        except PreconditionError as exc:
            res.skipped[pkg] = str(exc)
            continue
        if result.verified:
            res.verified.append(pkg)
        else:
            res.unverified[pkg] = "; ".join(result.differs)
    if res.changelog_changed and not r.options.check:
        changelog.save_history(project.root, history)
        render.render(r.release, lock, project, res.changelog_changed, history=history)
    return res
