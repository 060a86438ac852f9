"""emtk3s srpm: SPECS/ + cache -> SRPMS/."""

from __future__ import annotations

from collections.abc import Callable

import click

from emtk3s.cli.runner import Ctx, package_opt, run
from emtk3s.stages import srpm
from emtk3s.stages.context import Options


@click.command("srpm")
@package_opt
@click.option("--force", is_flag=True, help="Rebuild even when up to date.")
def srpm_cmd(packages: tuple[str, ...], force: bool) -> None:
    """SPECS/ + cache -> SRPMS/ (reproducible: same inputs, same bytes)."""

    def go(ctx: Ctx) -> tuple[srpm.SrpmResult, Callable[[srpm.SrpmResult], None]]:
        p = ctx.project()
        r = srpm.run(ctx.stage_run(p, Options(packages=packages, force=force)))

        def human(r: srpm.SrpmResult) -> None:
            for s in r.srpms:
                how = "up to date" if s.skipped else "built"
                click.echo(f"{how}: {s.path} ({s.nevr}, sha256 {s.sha256})")

        return r, human

    run("srpm", go)


command = srpm_cmd
