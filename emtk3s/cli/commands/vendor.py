"""emtk3s vendor: Go vendor tarballs made with the go on PATH, and pinned."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from emtk3s.cli.runner import Ctx, run

#: the label of a generated Go vendor tarball in the lock (a SourceRule path)
GO_VENDOR = "generated:go-mod-vendor:"


@click.command("vendor")
@click.option(
    "--package",
    "-p",
    "packages",
    multiple=True,
    help="Only this package (default: every package with a Go vendor tarball).",
)
@click.option(
    "--verify",
    is_flag=True,
    help="Make each pinned tarball again and compare its tree with the pinned one (exit 3).",
)
def vendor_cmd(packages: tuple[str, ...], verify: bool) -> None:
    """Make the Go vendor tarball(s) with the `go` on PATH (GOPROXY/GOFLAGS honoured), pin them."""

    def go(ctx: Ctx) -> tuple[dict[str, Any], Callable[[dict[str, Any]], None]]:
        from emtk3s.stages import fetch as fetch_stage

        p = ctx.project()
        lock = ctx.lock(p)
        names = list(packages) or [
            n
            for n, pl in sorted(lock.packages.items())
            if any(s.path.startswith(GO_VENDOR) for s in pl.sources)
        ]
        if verify:
            from emtk3s.workflows.vendor_verify import verify as verify_trees

            checked = verify_trees(p, ctx.release(p), lock, names)

            def report(d: dict[str, Any]) -> None:
                for r in d["verified"]:
                    click.echo(f"same tree: {r['source']} ({r['origin']})")

            return checked, report
        r = fetch_stage.fetch(ctx.release(p), lock, p.cache, p.lock_file, packages=names)
        after = r.lock or lock
        made = {
            f"{n}/{s.name}": s.sha256
            for n in names
            for s in after.packages[n].sources
            if s.generated
        }
        out = {"generated": r.generated, "vendor": made, "cache": str(p.cache.root)}

        def human(d: dict[str, Any]) -> None:
            for name, sha in d["vendor"].items():
                how = "made" if name in d["generated"] else "cached"
                click.echo(f"{how}: {name} sha256 {sha}")

        return out, human

    run("vendor", go)


command = vendor_cmd
