"""emtk3s chain: SPECS/ built in dependency order into the local repository."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from emtk3s.cli.runner import Ctx, package_opt, run
from emtk3s.infra.jsonout import jsonable

if TYPE_CHECKING:
    from emtk3s.builders.scheduler import Entry

BACKENDS = ("rpmbuild", "chroot", "mock")  # emtk3s.builders.dispatch.BACKENDS, without its imports

backend_opts = [
    click.option("--backend", type=click.Choice(BACKENDS), default="rpmbuild", show_default=True),
    click.option(
        "--chroot",
        "chroot",
        type=click.Path(path_type=Path),
        help="Worker chroot: a directory or a tarball.",
    ),
    click.option(
        "--nodeps",
        is_flag=True,
        help="rpmbuild backend: do not check BuildRequires (non-RPM hosts).",
    ),
    click.option("--mock-repo", help="mock backend: the EMT package repository URL."),
    click.option(
        "--arch", type=click.Choice(["x86_64", "aarch64"]), default="x86_64", show_default=True
    ),
]


def _with_backend_opts(f: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(backend_opts):
        f = opt(f)
    return f


@click.command("chain")
@package_opt
@_with_backend_opts
@click.option("-j", "--jobs", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--keep-going", is_flag=True, help="After a failure, go on with what does not depend on it."
)
@click.option("--force", is_flag=True, help="Rebuild even when up to date.")
@click.option(
    "--keep-other-backend",
    is_flag=True,
    help="Keep RPMs another backend made of the same SRPM (default: this backend rebuilds them).",
)
def chain_cmd(
    packages: tuple[str, ...],
    backend: str,
    chroot: Path | None,
    nodeps: bool,
    mock_repo: str | None,
    arch: str,
    jobs: int,
    keep_going: bool,
    force: bool,
    keep_other_backend: bool,
) -> None:
    """Build SPECS/ in dependency order (parallel where independent) into the local repo RPMS/."""

    def go(ctx: Ctx) -> tuple[dict[str, Any], Callable[[dict[str, Any]], None]]:
        from emtk3s.workflows.chain import chain

        def event(e: Entry) -> None:
            if not ctx.quiet:
                click.echo(
                    f"{e.status:10} {e.package}" + (f"  ({e.error})" if e.error else ""), err=True
                )

        result = chain(
            ctx.project(),
            ctx.catalog(),
            list(packages),
            backend,
            chroot=chroot,
            nodeps=nodeps,
            mock_repo=mock_repo,
            arch=arch,
            jobs=jobs,
            keep_going=keep_going,
            force=force,
            keep_other=keep_other_backend,
            on_event=event,
        )
        if result.failed:
            from emtk3s.builders.scheduler import chain_error

            # the class (exit code) of the first failure, as `build` reports it
            err = chain_error(
                result,
                f"chain: {', '.join(result.failed)} failed",
                "read the logs; packages that depend on them were skipped",
            )
            err.details = _table(jsonable(result))
            err.result = jsonable(result)
            raise err

        def human(d: dict[str, Any]) -> None:
            click.echo(_table(d), nl=False)

        return jsonable(result), human

    run("chain", go)


def _table(d: dict[str, Any]) -> str:
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"chain ({d['repo']})")
    for col in ("package", "status", "seconds", "rpms / error", "log"):
        t.add_column(col)
    for e in d["packages"]:
        t.add_row(
            e["package"],
            e["status"],
            f"{e['seconds']:.1f}",
            "\n".join(Path(r).name for r in e["rpms"]) or e["error"],
            e["log"],
        )
    buf = StringIO()
    Console(file=buf, width=160).print(t)
    return buf.getvalue()


command = chain_cmd
