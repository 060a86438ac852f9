"""emtk3s bump: the CVE fast path to a new K3s tag."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from emtk3s.workflows.bump import BumpResult

from emtk3s.cli.runner import Ctx, date_opt, run

Result = tuple[dict[str, Any], Callable[[dict[str, Any]], None]]


@click.command("bump")
@click.option("--k3s", "k3s", required=True, help="The new K3s tag, e.g. v1.32.7+k3s1.")
@click.option(
    "--allow-downgrade", is_flag=True, help="Accept an older K3s tag or older components."
)
@date_opt
def bump_cmd(k3s: str, allow_downgrade: bool, date: str | None) -> None:
    """The CVE fast path: new K3s tag -> release.toml, lock, cache, SPECS with a changelog entry."""

    def go(ctx: Ctx) -> tuple[BumpResult, Callable[[BumpResult], None]]:
        from emtk3s.workflows import bump

        p = ctx.project()
        r = bump.bump(
            p,
            k3s,
            ctx.catalog(),
            ctx.mirror_flags(),
            date=date,
            allow_downgrade=allow_downgrade,
        )

        def human(d: BumpResult) -> None:
            click.echo(f"K3s {d.old} -> {d.new}")
            for c in d.changes:
                down = " (downgrade)" if c["downgrade"] else ""
                click.echo(f"  {c['component']}: {c['old']} -> {c['new']}{down}")
            for w in d.warnings:
                click.echo(f"warning: {w}", err=True)
            for pkg, evr in d.changelog.items():
                click.echo(f"  changelog: {pkg} {evr}")
            click.echo("ready to commit: release.toml emtk3s.lock changelog.json SPECS/")

        return r, human

    run("bump", go)


command = bump_cmd
