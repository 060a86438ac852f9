"""emtk3s resolve: release.toml -> emtk3s.lock."""

from __future__ import annotations

from collections.abc import Callable

import click

from emtk3s.cli.runner import Ctx, run, table
from emtk3s.stages import resolve
from emtk3s.stages.context import Options


@click.command("resolve")
@click.option(
    "--refresh", is_flag=True, help="Contact upstream even when the lock matches release.toml."
)
@click.option(
    "--repin",
    is_flag=True,
    help="Contact upstream and accept tags that moved (after you verified them).",
)
@click.option("--locked", is_flag=True, help="Fail if the lock would change.")
@click.option("--offline", is_flag=True, help="Never contact upstream.")
def resolve_cmd(refresh: bool, repin: bool, locked: bool, offline: bool) -> None:
    """release.toml -> emtk3s.lock (tags, commits, sources)."""

    def go(ctx: Ctx) -> tuple[resolve.ResolveResult, Callable[[resolve.ResolveResult], None]]:
        p = ctx.project()
        r = resolve.run(
            ctx.stage_run(p, Options(refresh=refresh, repin=repin, locked=locked, offline=offline))
        )

        def human(r: resolve.ResolveResult) -> None:
            table([[n, c.tag, c.commit or "-"] for n, c in sorted(r.lock.components.items())])
            for ch in r.changes:
                click.echo(f"changed: {ch['component']} {ch['old']} -> {ch['new']}")
            for u in r.unpinned:
                click.echo(f"unpinned: {u} (emtk3s fetch pins it)")
            click.echo(f"lock {'updated' if r.changed else 'unchanged'}: {p.lock_file}")

        return r, human

    run("resolve", go)


command = resolve_cmd
