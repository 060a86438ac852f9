"""emt integrate as one workflow: SPECS/ checked against the templates, an interrupted integrate
recovered, the plan made (emtk3s.emt.plan), applied as one unit (emtk3s.emt.txn), and EMT's own
checks run on the result when asked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from emtk3s.emt import checkout, emtci, txn
from emtk3s.emt import plan as emt_plan
from emtk3s.emt.emtci import Report
from emtk3s.emt.plan import WRITES, Plan, refusal
from emtk3s.emt.plan.decide import Decision
from emtk3s.infra.errors import BuildError, IntegrityError
from emtk3s.infra.paths import Project
from emtk3s.model import lock as lockmod
from emtk3s.model.changelog import load_history
from emtk3s.model.release import Release
from emtk3s.model.status import IntegrateAction
from emtk3s.stages import render


def apply(p: Plan) -> list[str]:
    if p.refused:
        raise refusal(p)
    pending = [d for d in p.decisions if d.action == IntegrateAction.PENDING]
    if pending:
        ready = [d.package for d in p.decisions if d.action in WRITES]
        raise IntegrityError(
            "integrate: " + "; ".join(f"{d.package}: {d.reason}" for d in pending),
            "pin the sources first, or integrate the ready packages alone: "
            + (" ".join(f"-p {r}" for r in ready) or "(none is ready)"),
        )
    changed = p.changed
    targets = list(p.change.files) + list(p.change.dirs)
    txn.sweep_leftovers(p.root, targets)
    if changed:
        txn.apply(p.root, p.change)
    return changed


def recover(emt: Path) -> str:
    """Finish or discard an integrate a kill interrupted (run first by every integrate)."""
    return txn.recover(checkout.require(emt))


@dataclass
class IntegrateResult:
    emt_repo: Path
    dry_run: bool
    decisions: list[Decision]
    changed: list[str]  # files and directories written (would be, in a dry run)
    images: list[str]  # the image configs the package list was added to
    image_rule: list[str]  # why each edge image config carries K3s or not
    diff: str  # the change as a patch
    recovered: str  # what became of an interrupted integrate ("" if none)
    checks: Report | None = field(default=None, metadata={"json_omit_none": True})


def integrate(
    project: Project,
    release: Release,
    emt_repo: Path,
    images: list[str],
    dry_run: bool = False,
    replace: bool = False,
    allow_downgrade: bool = False,
    run_checks: bool = False,
    report: Callable[[str], None] = lambda line: None,
    packages: list[str] | None = None,
) -> IntegrateResult:
    """Integrate the project's SPECS/ (or only ``packages`` of it) into ``emt_repo``;
    ``report`` gets each decision line when they matter before the result (a dry run, a
    refusal, a package still pending). The checkout is locked for the whole run
    (:func:`checkout.exclusive`)."""
    with checkout.exclusive(checkout.require(emt_repo)):
        return _integrate(
            project,
            release,
            emt_repo,
            images,
            dry_run,
            replace,
            allow_downgrade,
            run_checks,
            report,
            packages,
        )


def _integrate(
    project: Project,
    release: Release,
    emt_repo: Path,
    images: list[str],
    dry_run: bool,
    replace: bool,
    allow_downgrade: bool,
    run_checks: bool,
    report: Callable[[str], None],
    packages: list[str] | None,
) -> IntegrateResult:
    p = project
    lock = lockmod.require(p.lock_file, release.catalog.mirrors)
    pkgs = sorted(d.name for d in p.specs.iterdir() if d.is_dir()) if p.specs.is_dir() else []
    if pkgs:  # what goes into EMT is what the templates render, not a hand edit
        render.render(release, lock, p, pkgs, check=True, history=load_history(p.root))
    recovered = "" if dry_run else recover(emt_repo)
    by_rule, why = emt_plan.default_images(emt_repo)
    chosen = list(images) or by_rule
    if images:
        why = [f"image {i}: named with --image-config" for i in images]
    plan = emt_plan.plan(
        emt_repo, p.specs, lock, release.catalog, chosen, replace, allow_downgrade, packages
    )
    diff = plan.diff()
    out = IntegrateResult(
        emt_repo, dry_run, plan.decisions, plan.changed, chosen, why, diff, recovered
    )
    if dry_run or any(
        d.action in (IntegrateAction.REFUSED, IntegrateAction.PENDING) for d in plan.decisions
    ):
        for d in plan.decisions:
            report(f"decision: {d.line()}")
        for line in why:
            report(f"decision: {line}")
    if plan.refused:
        err = refusal(plan)  # a dry run's patch is in the result (the CLI prints it on stdout)
        err.result = out
        raise err
    if not dry_run:
        out.changed = apply(plan)
    if run_checks and not dry_run:
        specs = [
            f"SPECS/{d.package}/{d.package}.spec" for d in plan.decisions if d.action in WRITES
        ]
        rep = emtci.run_all(plan.root, specs)
        out.checks = rep
        if rep.failures:
            failed = BuildError(
                "EMT checks failed: "
                + ", ".join(f"{r.check} {r.spec or '(checkout)'}" for r in rep.failures),
                rep.hint(),
                details="\n".join(f"== {r.check} {r.spec}\n{r.output}" for r in rep.failures),
            )
            failed.result = out
            raise failed
    return out
