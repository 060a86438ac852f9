"""emtk3s validate: rpmspec -P per arch, rpmlint, EMT's rules."""

from __future__ import annotations

from collections.abc import Callable

import click

from emtk3s.cli.runner import Ctx, package_opt, run
from emtk3s.stages import validate
from emtk3s.stages.context import Options


@click.command("validate")
@package_opt
def validate_cmd(packages: tuple[str, ...]) -> None:
    """rpmspec -P for each arch, no network command in build sections, rpmlint."""

    def go(ctx: Ctx) -> tuple[validate.LintResult, Callable[[validate.LintResult], None]]:
        p = ctx.project()
        r = validate.run(ctx.stage_run(p, Options(packages=packages)))

        def human(r: validate.LintResult) -> None:
            for n in r.checked + r.skipped:
                click.echo(f"valid: {p.specs / n}")
            for line in r.license_notes():
                click.echo(line)

        return r, human

    run("validate", go)


command = validate_cmd
