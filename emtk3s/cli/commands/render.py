"""emtk3s render: lock + templates -> SPECS/."""

from __future__ import annotations

from collections.abc import Callable

import click

from emtk3s.cli.runner import Ctx, date_opt, package_opt, run
from emtk3s.stages import render
from emtk3s.stages.context import Options


@click.command("render")
@package_opt
@click.option("--check", is_flag=True, help="Fail (exit 7) when SPECS/ differs from the templates.")
@date_opt
def render_cmd(packages: tuple[str, ...], check: bool, date: str | None) -> None:
    """Lock + templates/ -> SPECS/<pkg>/ (spec, signatures.json, patches, changelog.json)."""

    def go(ctx: Ctx) -> tuple[render.RenderResult, Callable[[render.RenderResult], None]]:
        p = ctx.project()
        r = render.run(ctx.stage_run(p, Options(packages=packages, check=check, date=date)))

        def human(r: render.RenderResult) -> None:
            for n in r.written:
                click.echo(f"rendered: {p.specs / n}")
            for n in r.unchanged:
                click.echo(f"{'up to date' if check else 'unchanged'}: {p.specs / n}")
            for n, why in r.skipped.items():
                click.echo(f"skipped: {n}: {why}")
            for n, entries in sorted(r.history.items()):
                evr = entries[0]["evr"]
                click.echo(f"changelog: {n} {evr} (new entry in {p.root / 'changelog.json'})")
            for n, names in r.pending.items():
                for name in names:
                    click.echo(
                        f"PENDING: {n}/{name} has no sha256 yet (generated, or pinned upstream by "
                        "sha512 only); srpm and emt integrate refuse it until emtk3s fetch (or "
                        "vendor) pins it with network"
                    )

            for n, names in r.prebuilt.items():
                for name in names:
                    click.echo(
                        f"NOT BUILT FROM SOURCE: {n}/{name} is upstream's prebuilt image archive "
                        "(release.toml airgap_images = true): not OSPDT-clean (docs/compliance.md); "
                        "the default release builds the addon images from source",
                        err=True,
                    )

        return r, human

    run("render", go)


command = render_cmd
