"""emtk3s fetch: every source into the verified cache."""

from __future__ import annotations

from collections.abc import Callable

import click

from emtk3s.cli.runner import Ctx, package_opt, run
from emtk3s.infra.http import Policy
from emtk3s.stages import fetch as fetch_stage
from emtk3s.stages.context import Options


@click.command("fetch")
@package_opt
@click.option("--offline", is_flag=True, help="Only check the cache; list what is missing.")
@click.option("--locked", is_flag=True, help="Fail if a source is unpinned.")
@click.option("-j", "--jobs", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--retries", default=4, show_default=True, type=click.IntRange(0, 20))
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(0.1, 3600))
def fetch_cmd(
    packages: tuple[str, ...], offline: bool, locked: bool, jobs: int, retries: int, timeout: float
) -> None:
    """Download every source into the verified cache."""

    def go(ctx: Ctx) -> tuple[fetch_stage.FetchResult, Callable[[fetch_stage.FetchResult], None]]:
        p = ctx.project()
        opts = Options(
            packages=packages,
            offline=offline,
            locked=locked,
            policy=Policy(retries=retries, timeout=timeout, jobs=jobs),
        )
        r = fetch_stage.run(ctx.stage_run(p, opts))
        if offline and r.missing:  # as all --offline: the cache cannot give what was asked
            from emtk3s.infra.errors import NeedsNetwork
            from emtk3s.infra.jsonout import jsonable

            for m in r.missing:
                click.echo(f"missing: {m}", err=True)
            err = NeedsNetwork(
                f"stopped: needs network: {len(r.missing)} source(s) not in the cache "
                f"{p.cache.root}",
                "run emtk3s fetch with network access or a mirror (EMTK3S_MIRROR_<NAME>)",
            )
            err.result = jsonable(r)
            raise err

        def human(r: fetch_stage.FetchResult) -> None:
            click.echo(f"fetch: {r.downloaded} downloaded, {r.cached} cached, cache {p.cache.root}")
            for m in r.missing:
                click.echo(f"missing: {m}")
            for m in r.pinned:
                click.echo(f"pinned: {m}")

        return r, human

    run("fetch", go)


command = fetch_cmd
