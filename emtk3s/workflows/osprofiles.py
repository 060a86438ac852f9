"""emt os-profiles: the lock's K3s version into infra-core's OS profiles (emtk3s.emt.osprofiles),
previewed or applied as one unit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from emtk3s.emt import osprofiles
from emtk3s.infra.paths import Project
from emtk3s.model import lock as lockmod
from emtk3s.model.release import Release


def update(
    project: Project,
    release: Release,
    infra: Path,
    profiles: list[str],
    dry_run: bool = False,
    allow_downgrade: bool = False,
    report: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    lock = lockmod.require(project.lock_file, release.catalog.mirrors)
    plan = osprofiles.plan(infra, lock.k3s, profiles, allow_downgrade)
    for d in plan.decisions:
        report(f"decision: {d.line()}")
    out: dict[str, Any] = {
        "infra_core": str(infra),
        "kubernetes-version": lock.k3s,
        "dry_run": dry_run,
        "decisions": plan.decisions,  # encoded with the result (infra/jsonout)
        "diff": plan.diff(),
        "changed": sorted(str(plan.root / rel) for rel in plan.change.files),
    }
    if plan.refused:
        err = osprofiles.refusal(plan)
        err.result = out
        raise err
    if not dry_run:
        out["changed"] = osprofiles.apply(plan)
    return out
