"""emtk3s all: the stages in order, skipping what is up to date."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from emtk3s.cli.runner import Ctx, date_opt, package_opt, run
from emtk3s.infra.http import Policy
from emtk3s.stages import build, render, resolve, srpm, validate
from emtk3s.stages import fetch as fetch_stage
from emtk3s.stages.all import STAGES, AllResult, run_all
from emtk3s.stages.context import Options


@click.command("all")
@package_opt
@click.option("--offline", is_flag=True, help="No network: go as far as the lock and cache allow.")
@click.option("--locked", is_flag=True, help="Fail if the lock would change.")
@click.option("--nodeps", is_flag=True, help="Do not check BuildRequires (non-RPM hosts).")
@click.option("--until", type=click.Choice(STAGES), default="build", show_default=True)
@click.option(
    "-j",
    "--jobs",
    default=8,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Parallel downloads.",
)
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
@date_opt
def all_cmd(
    packages: tuple[str, ...],
    offline: bool,
    locked: bool,
    nodeps: bool,
    until: str,
    jobs: int,
    backend: str,
    chroot: Path | None,
    mock_repo: str | None,
    date: str | None,
) -> None:
    """Run the chain; stages whose inputs did not change are skipped."""

    def go(ctx: Ctx) -> tuple[AllResult, Callable[[AllResult], None]]:
        p = ctx.project()
        opts = Options(
            packages=packages,
            offline=offline,
            locked=locked,
            nodeps=nodeps,
            policy=Policy(jobs=jobs),
            backend=backend,
            chroot=chroot,
            mock_repo=mock_repo,
            date=date,
        )
        r = run_all(ctx.stage_run(p, opts), until=until)
        if r.needs_network and until == "build":
            from emtk3s.infra.errors import NeedsNetwork
            from emtk3s.infra.jsonout import jsonable

            b = r.stages.get("build")
            built = [e.package for e in b.builds] if b is not None else []
            err = NeedsNetwork(
                f"stopped: needs network: {', '.join(r.needs_network)} cannot be built offline"
                + (f" ({len(built)} other(s) built)" if built else " (nothing built)"),
                "run emtk3s all with network access or a mirror (EMTK3S_MIRROR_<NAME>)",
            )
            doc = jsonable(r)
            assert isinstance(doc, dict)
            err.result = doc | {"stopped": "needs network", "detail": r.stopped}
            raise err

        def human(r: AllResult) -> None:
            for line in summary(r):
                click.echo(line)

        return r, human

    run("all", go)


def summary(r: AllResult) -> list[str]:
    """One line per stage result (and per SRPM and RPM) of an ``all`` run."""
    st = r.stages
    res: resolve.ResolveResult = st["resolve"]
    lines = [
        f"resolve:  {res.k3s} lock {'updated' if res.changed else 'unchanged'}"
        f"{' (upstream contacted)' if res.network else ' (no network)'}"
    ]
    if "fetch" in st:
        f: fetch_stage.FetchResult = st["fetch"]
        lines.append(
            f"fetch:    {f.downloaded} downloaded, {f.cached} cached, {len(f.missing)} missing"
        )
    if "render" in st:
        rr: render.RenderResult = st["render"]
        lines.append(
            f"render:   {len(rr.written)} written, {len(rr.unchanged)} unchanged"
            f" -> {r.outputs['specs']}"
        )
    if "validate" in st:
        v: validate.LintResult = st["validate"]
        lines.append(
            f"validate: {len(v.checked)} checked, {len(v.skipped)} up to date (rpmspec -P, rpmlint)"
        )
    if "srpm" in st:
        srpms: srpm.SrpmResult = st["srpm"]
        for s in srpms.srpms:
            lines.append(f"srpm:     {'up to date' if s.skipped else 'built'} {s.path}")
    if "build" in st:
        built: build.BuildResult = st["build"]
        for b in built.builds:
            lines += [f"build:    {b.status} {rpm_path}" for rpm_path in b.rpms]
    if r.stopped:
        lines.append(f"stopped:  {r.stopped}")
    return lines


command = all_cmd
