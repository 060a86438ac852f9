"""emtk3s license-check: License: tags against the sources."""

from __future__ import annotations

from collections.abc import Callable

import click

from emtk3s.cli.runner import Ctx, package_opt, run
from emtk3s.stages.context import Options
from emtk3s.stages.license import LicenseResult


@click.command("license-check")
@package_opt
def license_check_cmd(packages: tuple[str, ...]) -> None:
    """License: tags against the sources (SPDX); the changelog says "License verified." only then."""

    def go(ctx: Ctx) -> tuple[LicenseResult, Callable[[LicenseResult], None]]:
        from emtk3s.stages import license

        r = license.run(ctx.stage_run(ctx.project(), Options(packages=packages)))

        def human(r: LicenseResult) -> None:
            for c in r.packages:
                click.echo(f"license verified: {c.package} ({c.tag})")

        return r, human

    run("license-check", go)


command = license_check_cmd
