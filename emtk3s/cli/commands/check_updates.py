"""emtk3s check-updates: newer upstream K3s tags of the same minor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from emtk3s.cli.runner import Ctx, run

Result = tuple[dict[str, Any], Callable[[dict[str, Any]], None]]


@click.command("check-updates")
def check_updates_cmd() -> None:
    """Newer upstream K3s tags of the same minor (git ls-remote on the github mirror)."""

    def go(ctx: Ctx) -> Result:
        from emtk3s.workflows import bump

        p = ctx.project()
        out = bump.check_updates(ctx.release(p))

        def human(d: dict[str, Any]) -> None:
            if d["newer"]:
                click.echo(f"{d['current']}: newer {', '.join(d['newer'])}")
            else:
                click.echo(f"{d['current']}: up to date")

        return out, human

    run("check-updates", go)


command = check_updates_cmd
