"""emtk3s emt: integrate SPECS/ into an EMT checkout; the files its source server needs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from emtk3s.workflows.integrate import IntegrateResult

from emtk3s.cli.runner import Ctx, Group, run

Result = tuple[dict[str, Any], Callable[[dict[str, Any]], None]]


@click.group("emt", cls=Group)
def emt_group() -> None:
    """Work with an EMT checkout."""


@emt_group.command("integrate")
@click.option("--emt-repo", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--image-config",
    "images",
    multiple=True,
    help="Image config file name under toolkit/imageconfigs (repeatable; default: the edge images).",
)
@click.option(
    "--package",
    "-p",
    "packages",
    multiple=True,
    help="Integrate only this rendered package (repeatable; default: every rendered one).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print every decision (pending sources marked) and the unified diff; write nothing.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Remove other copies of our specs (e.g. SPECS-EXTENDED/<pkg>) and overwrite hand edits.",
)
@click.option("--allow-downgrade", is_flag=True, help="Accept a version older than EMT's.")
@click.option(
    "--check",
    "run_checks",
    is_flag=True,
    help="Then run EMT's own CI checks the checkout contains, per spec (exit 5 when one fails).",
)
def integrate_cmd(
    emt_repo: Path,
    images: tuple[str, ...],
    packages: tuple[str, ...],
    dry_run: bool,
    replace: bool,
    allow_downgrade: bool,
    run_checks: bool,
) -> None:
    """Copy SPECS/ in, update cgmanifest.json, the license map, the k3s package list, image
    configs and the version record; as one change."""

    def go(ctx: Ctx) -> tuple[IntegrateResult, Callable[[IntegrateResult], None]]:
        from emtk3s.infra.errors import Emtk3sError
        from emtk3s.workflows.integrate import IntegrateResult, integrate

        p = ctx.project()
        try:
            out = integrate(
                p,
                ctx.release(p),
                emt_repo,
                list(images),
                dry_run=dry_run,
                replace=replace,
                allow_downgrade=allow_downgrade,
                run_checks=run_checks,
                report=lambda line: click.echo(line, err=True),
                packages=list(packages) or None,
            )
        except Emtk3sError as exc:  # a refused dry run: its patch still goes to stdout
            res = exc.result
            if dry_run and not ctx.json and isinstance(res, IntegrateResult) and res.diff:
                click.echo(res.diff, nl=False)
            raise

        def human(r: IntegrateResult) -> None:
            if dry_run:
                click.echo(r.diff, nl=False)
            else:
                for dec in r.decisions:
                    click.echo(f"decision: {dec.line()}")
            if r.recovered:
                click.echo(f"an interrupted integrate was {r.recovered}")
            for c in r.changed:
                click.echo(f"{'would change' if dry_run else 'changed'}: {c}")
            if not r.changed:
                click.echo(f"up to date: {emt_repo}")
            for res in r.checks.results if r.checks else []:
                extra = f" ({res.output.splitlines()[-1]})" if res.status == "skipped" else ""
                click.echo(f"check {res.check}: {res.spec or '(checkout)'}: {res.status}{extra}")

        return out, human

    run("emt integrate", go)


@emt_group.command("sources")
@click.option(
    "--copy-to",
    type=click.Path(file_okay=False, path_type=Path),
    help="Copy every file (by basename, with SHA256SUMS) into this directory for upload.",
)
def sources_cmd(copy_to: Path | None) -> None:
    """Every file EMT's source server needs for SPECS/ (generated tarballs included)."""

    def go(ctx: Ctx) -> Result:
        from emtk3s.emt import sources

        p = ctx.project()
        files = sources.listing(p.specs, p.cache)
        out: dict[str, Any] = {"files": files, "copied_to": None}
        if copy_to:
            out["copied_to"] = str(sources.copy_to(files, copy_to, p.cache))

        def human(d: dict[str, Any]) -> None:
            for f in d["files"]:
                size = "-" if f["size"] is None else str(f["size"])
                state = (
                    ""
                    if f["cached"]
                    else "  (not in the cache: run emtk3s fetch)"
                    if f["pinned"]
                    else "  (PENDING: generated, not pinned yet)"
                )
                click.echo(f"{f['sha256']}  {size:>10}  {f['name']}  [{f['package']}]{state}")
            if d["copied_to"]:
                click.echo(f"copied {len(d['files'])} files to {d['copied_to']}")

        return out, human

    run("emt sources", go)


command = emt_group


@emt_group.command("os-profiles")
@click.option("--infra-core", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    help="Also give this profile (os-profiles/NAME.yaml) the field (repeatable).",
)
@click.option("--dry-run", is_flag=True, help="Print the decisions and the diff; write nothing.")
@click.option("--allow-downgrade", is_flag=True, help="Accept a K3s older than a profile's.")
def os_profiles_cmd(
    infra_core: Path, profiles: tuple[str, ...], dry_run: bool, allow_downgrade: bool
) -> None:
    """Set metadata.kubernetes-version of infra-core's OS profiles whose image carries K3s."""

    def go(ctx: Ctx) -> Result:
        from emtk3s.workflows.osprofiles import update

        p = ctx.project()
        out = update(
            p,
            ctx.release(p),
            infra_core,
            list(profiles),
            dry_run,
            allow_downgrade,
            report=lambda line: click.echo(line, err=True),
        )

        def human(d: dict[str, Any]) -> None:
            if dry_run:
                click.echo(d["diff"], nl=False)
            for c in d["changed"]:
                click.echo(f"{'would change' if dry_run else 'changed'}: {c}")
            if not d["changed"]:
                click.echo(f"up to date: {infra_core}")

        return out, human

    run("emt os-profiles", go)


@emt_group.command("pin")
@click.option("--emt-repo", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--package",
    "-p",
    "packages",
    multiple=True,
    help="Only this package (repeatable; default: every package with a PENDING source).",
)
def pin_cmd(emt_repo: Path, packages: tuple[str, ...]) -> None:
    """Pin PENDING generated sources (Go vendor tarballs) from EMT's own signatures.json."""

    def go(ctx: Ctx) -> Result:
        from emtk3s.workflows.pin import pin_from_emt

        p = ctx.project()
        out = pin_from_emt(p, ctx.release(p), emt_repo, list(packages))

        def human(d: dict[str, Any]) -> None:
            for line in d["pinned"]:
                click.echo(f"pinned: {line}")
            for line in d["not_found"]:
                click.echo(f"not pinned: {line}")
            if d["pinned"]:
                click.echo("next: emtk3s fetch (EMT's source server), emtk3s render")

        return out, human

    run("emt pin", go)
