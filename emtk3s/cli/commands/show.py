"""emtk3s show: what the lock holds."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from emtk3s.cli.runner import Ctx, run
from emtk3s.model import lock as lockmod


@click.command("show")
@click.argument("name", required=False)
@click.option(
    "--downloads", is_flag=True, help="A package's sources: name, URL, hash and where it came from."
)
def show_cmd(name: str | None, downloads: bool) -> None:
    """Print what the lock holds (a component or package, or everything)."""

    def go(ctx: Ctx) -> tuple[dict[str, Any], Callable[[dict[str, Any]], None]]:
        p = ctx.project()
        lock = lockmod.require(p.lock_file)
        data = json.loads(lock.to_json())
        if downloads:
            from emtk3s.infra.errors import InputError

            if name is None or name not in data["packages"]:
                raise InputError(
                    f"--downloads needs a package of the lock, not {name!r}",
                    f"choose from {', '.join(sorted(data['packages']))}",
                )
            rows = [
                {
                    "name": s.name,
                    "url": s.upstream_url,
                    "sha256": s.sha256,
                    "sha512": s.sha512,
                    "origin": s.origin or "unpinned",
                }
                for s in lock.packages[name].sources
            ]

            def table(d: dict[str, Any]) -> None:
                for r in d["downloads"]:
                    sha = r["sha256"] or f"pending (sha512 {r['sha512'][:16]}...)"
                    click.echo(f"{r['name']}  {sha}  {r['origin']}  {r['url']}")

            return {"package": name, "downloads": rows}, table
        if name is not None:
            if name in data["packages"]:
                out = {
                    "package": data["packages"][name],
                    "component": data["components"][data["packages"][name]["component"]],
                }
            elif name in data["components"]:
                out = {"component": data["components"][name]}
            else:
                from emtk3s.infra.errors import InputError

                raise InputError(
                    f"{name!r} is neither a package nor a component in the lock",
                    f"choose from {', '.join(sorted(data['packages']) + sorted(data['components']))}",
                )
        else:
            out = data

        def human(d: dict[str, Any]) -> None:
            click.echo(json.dumps(d, indent=2, sort_keys=True))

        return out, human

    run("show", go)


command = show_cmd
