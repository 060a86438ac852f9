"""emtk3s check-updates: newer upstream K3s tags of the same minor."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from emtk3s.cli.runner import Ctx, run

if TYPE_CHECKING:
    from emtk3s.workflows.bump import Updates


#: check-updates' exit code when a newer tag exists (dnf check-update's convention)
UPDATES_AVAILABLE = 100


@click.command("check-updates")
def check_updates_cmd() -> None:
    """Newer upstream K3s tags of the same minor; exit 100 when there is one (dnf's convention)."""

    def go(ctx: Ctx) -> tuple[Updates, Callable[[Updates], None]]:
        from emtk3s.workflows import bump

        p = ctx.project()
        out = bump.check_updates(ctx.release(p))

        def human(u: Updates) -> None:
            if u.newer:
                click.echo(f"{u.current}: newer {', '.join(u.newer)}")
            else:
                click.echo(f"{u.current}: up to date")

        return out, human

    run("check-updates", go, status=lambda u: UPDATES_AVAILABLE if u.newer else 0)


command = check_updates_cmd
