"""emtk3s check-updates: newer upstream K3s tags of the same minor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from emtk3s.cli.runner import Ctx, run

Result = tuple[dict[str, Any], Callable[[dict[str, Any]], None]]


#: check-updates' exit code when a newer tag exists (dnf check-update's convention)
UPDATES_AVAILABLE = 100


@click.command("check-updates")
def check_updates_cmd() -> None:
    """Newer upstream K3s tags of the same minor; exit 100 when there is one (dnf's convention)."""

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

    run("check-updates", go, status=lambda d: UPDATES_AVAILABLE if d["newer"] else 0)


command = check_updates_cmd
