"""emtk3s show: what the lock holds, as a table for a person and as JSON with --json."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from emtk3s.cli.runner import Ctx, run
from emtk3s.cli.runner import table as _table
from emtk3s.infra.errors import InputError
from emtk3s.model import lock as lockmod

Shown = tuple[dict[str, Any], Callable[[dict[str, Any]], None]]


def _sha(src: dict[str, Any]) -> str:
    if src["sha256"]:
        return str(src["sha256"])
    return "PENDING (sha512 known)" if src.get("sha512") else "PENDING"


def _package(d: dict[str, Any]) -> None:
    pkg, comp = d["package"], d["component"]
    click.echo(f"package {pkg['name']} {pkg['version']} from {comp['repo']} {comp['tag']}")
    click.echo(f"commit  {comp['commit']}")
    _table(
        [["source", "sha256", "origin"]]
        + [[s["name"], _sha(s), s["origin"] or "unpinned"] for s in pkg["sources"]]
    )


def _component(d: dict[str, Any]) -> None:
    c = d["component"]
    click.echo(f"component {c['name']} {c['tag']} ({c['repo']}, commit {c['commit']})")
    for k, v in sorted(c["facts"].items()):
        if isinstance(v, str | int) and not k.startswith("_"):
            click.echo(f"  {k} = {v}")


def _overview(d: dict[str, Any]) -> None:
    _table(
        [["component", "tag", "commit"]]
        + [[n, c["tag"], c["commit"] or "-"] for n, c in sorted(d["components"].items())]
    )
    click.echo("")
    rows = [["package", "version", "sources"]]
    for n, p in sorted(d["packages"].items()):
        pending = [s["name"] for s in p["sources"] if not s["sha256"]]
        note = f"{len(p['sources'])}" + (f", {len(pending)} PENDING" if pending else "")
        rows.append([n, p["version"], note])
    _table(rows)


def _source(lock: lockmod.Lock, name: str) -> dict[str, Any] | None:
    """A piece that is not a component of its own (runc, containerd, a chart): the source
    of a package that carries it, and the version the tag's files name."""
    for pname in sorted(lock.packages):
        for s in lock.packages[pname].sources:
            if s.name == name or s.name.startswith(f"{name}-"):
                comp = lock.components[lock.packages[pname].component]
                version = comp.facts.get(f"VERSION_{name.upper().replace('-', '_')}")
                return {"source": lockmod.source_record(s), "package": pname, "version": version}
    return None


@click.command("show")
@click.argument("name", required=False)
@click.option(
    "--downloads", is_flag=True, help="A package's sources: name, URL, hash and where it came from."
)
def show_cmd(name: str | None, downloads: bool) -> None:
    """Print what the lock holds (a component or package, or everything)."""

    def go(ctx: Ctx) -> Shown:
        p = ctx.project()
        lock = ctx.lock(p)
        choices = ", ".join(sorted(set(lock.packages) | set(lock.components)))
        if downloads:
            if name is None or name not in lock.packages:
                raise InputError(
                    f"--downloads needs a package of the lock, not {name!r}",
                    f"choose from {', '.join(sorted(lock.packages))}",
                )
            rows = [
                {
                    "name": s.name,
                    "url": s.upstream_url(ctx.catalog().mirrors),
                    "sha256": s.sha256,
                    "sha512": s.sha512,
                    "origin": s.origin or "unpinned",
                }
                for s in lock.packages[name].sources
            ]

            def table(d: dict[str, Any]) -> None:
                _table([[r["name"], _sha(r), r["origin"], r["url"]] for r in d["downloads"]])

            return {"package": name, "downloads": rows}, table
        if name is None:
            return json.loads(lock.to_json()), _overview
        if name in lock.packages:
            pkg = lock.package_data(name)
            return {"package": pkg, "component": lock.component_data(pkg["component"])}, _package
        if name in lock.components:
            return {"component": lock.component_data(name)}, _component
        found = _source(lock, name)
        if found is not None:

            def one(d: dict[str, Any]) -> None:
                s = d["source"]
                click.echo(
                    f"{name} {d['version'] or ''} in package {d['package']}".replace("  ", " ")
                )
                click.echo(f"  {s['name']}  {_sha(s)}  {s['origin'] or 'unpinned'}")

            return found, one
        raise InputError(
            f"{name!r} is neither a package, a component nor a source in the lock",
            f"choose from {choices}",
        )

    run("show", go)


command = show_cmd
