"""Commands for chain builds and build backends (chroot, mock)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from emtk3s.cli.runner import Ctx, package_opt, run
from emtk3s.infra.jsonout import jsonable

if TYPE_CHECKING:
    from emtk3s.builders.scheduler import Entry

BACKENDS = ("rpmbuild", "chroot", "mock")  # emtk3s.build.dispatch.BACKENDS, without its imports

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
) -> None:
    """Build SPECS/ in dependency order (parallel where independent) into the local repo RPMS/."""

    def go(ctx: Ctx) -> tuple[dict[str, Any], Callable[[dict[str, Any]], None]]:
        from emtk3s.builders import dispatch
        from emtk3s.builders import graph as plan
        from emtk3s.builders.scheduler import run_chain
        from emtk3s.model import lock as lockmod

        p = ctx.project()
        lock = lockmod.load(p.lock_file)
        graph = plan.for_project(p, list(packages) or None)
        build = dispatch.builder(
            p, backend, chroot=chroot, nodeps=nodeps, force=force, mock_repo=mock_repo, arch=arch
        )

        def event(e: Entry) -> None:
            if not ctx.quiet:
                click.echo(
                    f"{e.status:10} {e.package}" + (f"  ({e.error})" if e.error else ""), err=True
                )

        from emtk3s.infra.progress import BuildProgress

        with BuildProgress() as progress:
            result = run_chain(
                p,
                graph,
                lock,
                build,
                jobs=jobs,
                keep_going=keep_going,
                on_event=event,
                progress=progress,
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


COMMANDS: list[click.Command] = [chain_cmd, mock_config_cmd]
