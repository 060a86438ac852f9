"""emtk3s mock-config: the mock config for EMT builds and the mock command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from emtk3s.cli.runner import Ctx, run


@click.command("mock-config")
@click.option("--mock-repo", required=True, help="The EMT package repository URL.")
@click.option(
    "--arch", type=click.Choice(["x86_64", "aarch64"]), default="x86_64", show_default=True
)
@click.option("--epoch", type=int, default=0, help="SOURCE_DATE_EPOCH for the builds.")
def mock_config_cmd(mock_repo: str, arch: str, epoch: int) -> None:
    """Write the mock config for EMT builds and print the mock command line."""

    def go(ctx: Ctx) -> tuple[dict[str, Any], Callable[[dict[str, Any]], None]]:
        from emtk3s.builders import dispatch, mock

        p = ctx.project()
        cfg = dispatch.write_config(p, mock.MockSetup(arch, mock_repo, p.rpms, epoch))
        cmd = mock.command(
            cfg, Path("SRPMS/<package>.src.rpm"), p.root / ".emtk3s" / "mock" / "result"
        )
        out = {
            "config": str(cfg),
            "command": cmd,
            "exit_codes": {str(k): v for k, v in mock.MOCK_EXIT_CAUSES.items()},
        }

        def human(d: dict[str, Any]) -> None:
            click.echo(f"config: {d['config']}")
            click.echo("command: " + " ".join(d["command"]))

        return out, human

    run("mock-config", go)


command = mock_config_cmd
