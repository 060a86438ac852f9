"""emtk3s root-diff: what a package's tree bundles, against EMT's SPECS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from emtk3s.cli.runner import Ctx, run

Result = tuple[dict[str, Any], Callable[[dict[str, Any]], None]]


@click.command("root-diff")
@click.option("--emt-repo", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--chroot",
    type=click.Path(file_okay=False, path_type=Path),
    help="A toolchain chroot directory.",
)
def root_diff_cmd(emt_repo: Path, chroot: Path | None) -> None:
    """The binaries a package's tree bundles against EMT's SPECS (and a chroot): counts, actions."""

    def go(ctx: Ctx) -> Result:
        from emtk3s.emt import rootdiff

        catalog = ctx.catalog()
        report = rootdiff.root_diff(ctx.lock(ctx.project()), emt_repo, catalog, chroot)

        def human(d: dict[str, Any]) -> None:
            click.echo(rootdiff.markdown(d, catalog), nl=False)

        return report, human

    run("root-diff", go)


command = root_diff_cmd
