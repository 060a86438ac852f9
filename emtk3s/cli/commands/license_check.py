"""emtk3s license-check: License: tags against the sources."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from emtk3s.cli.runner import Ctx, package_opt, run
from emtk3s.model import lock as lockmod
from emtk3s.stages import render


@click.command("license-check")
@package_opt
def license_check_cmd(packages: tuple[str, ...]) -> None:
    """License: tags against the sources (SPDX); the changelog says "License verified." only then."""

    def go(ctx: Ctx) -> tuple[dict[str, Any], Callable[[dict[str, Any]], None]]:
        from emtk3s.infra.errors import InputError
        from emtk3s.model.changelog import load_history
        from emtk3s.stages.license import license_check

        p = ctx.project()
        rel = ctx.release(p)
        lock = lockmod.require(p.lock_file)
        names = list(packages) or [n for n in sorted(lock.packages) if (p.specs / n).is_dir()]
        out = license_check(p, lock, rel.release, names)
        if out["changelog_changed"]:
            render.render(rel, lock, p, out["changelog_changed"], history=load_history(p.root))
        failed = [r for r in out["packages"] if not r["verified"]]
        if failed:
            err = InputError(
                "license check failed: "
                + "; ".join(f"{r['package']}: {', '.join(r['differs'])}" for r in failed),
                "make the template's License: tag name every license of the source",
            )
            err.result = out
            raise err

        def human(d: dict[str, Any]) -> None:
            for r in d["packages"]:
                click.echo(f"license verified: {r['package']} ({r['tag']})")

        return out, human

    run("license-check", go)


command = license_check_cmd
