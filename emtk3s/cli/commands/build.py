"""emtk3s build: SRPMS/ -> RPMS/<arch>/ with a backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from emtk3s.cli.runner import Ctx, package_opt, run
from emtk3s.stages import build
from emtk3s.stages.context import Options


@click.command("build")
@package_opt
@click.option(
    "--backend",
    type=click.Choice(["rpmbuild", "chroot", "mock"]),
    default="rpmbuild",
    show_default=True,
)
@click.option(
    "--chroot",
    "chroot",
    type=click.Path(path_type=Path),
    help="Worker chroot: a directory or a tarball.",
)
@click.option("--mock-repo", help="mock backend: the EMT package repository URL.")
@click.option(
    "--nodeps", is_flag=True, help="Do not check BuildRequires (rpmbuild backend, non-RPM hosts)."
)
@click.option("--force", is_flag=True, help="Rebuild even when up to date.")
@click.option(
    "--keep-other-backend",
    is_flag=True,
    help="Keep RPMs another backend made of the same SRPM (default: this backend rebuilds them).",
)
def build_cmd(
    packages: tuple[str, ...],
    backend: str,
    chroot: Path | None,
    mock_repo: str | None,
    nodeps: bool,
    force: bool,
    keep_other_backend: bool,
) -> None:
    """SRPMS/ -> RPMS/<arch>/ (then a local repo with createrepo_c). Use `chain` for many."""

    def go(ctx: Ctx) -> tuple[build.BuildResult, Callable[[build.BuildResult], None]]:
        p = ctx.project()
        opts = Options(
            packages=packages,
            backend=backend,
            chroot=chroot,
            nodeps=nodeps,
            force=force,
            keep_other_backend=keep_other_backend,
            mock_repo=mock_repo,
        )
        r = build.run(ctx.stage_run(p, opts))

        def human(r: build.BuildResult) -> None:
            for b in r.builds:
                for rpm_path in b.rpms:
                    click.echo(f"{b.status}: {rpm_path}")
                click.echo(f"log: {b.log}")

        return r, human

    run("build", go)


command = build_cmd
