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
@click.option(
    "--keep-other-backend",
    is_flag=True,
    help="Keep RPMs another backend made of the same SRPM (default: this backend rebuilds them).",
)
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
    keep_other_backend: bool,
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
            keep_other_backend=keep_other_backend,
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
    """What an ``all`` run did: a line per stage that changed something, then one line per
    package (its SRPM, its RPMs and the backend that made them). A no-op prints one line per
    package and nothing else."""
    st = r.stages
    lines = []
    res: resolve.ResolveResult = st["resolve"]
    if res.changed or res.network:
        lines.append(
            f"resolve:  {res.k3s} lock {'updated' if res.changed else 'unchanged'}"
            f"{' (upstream contacted)' if res.network else ''}"
        )
    f: fetch_stage.FetchResult | None = st.get("fetch")
    if f is not None and (f.downloaded or f.missing or f.generated or f.pinned):
        lines.append(
            f"fetch:    {f.downloaded} downloaded, {f.cached} cached, {len(f.missing)} missing"
            + (f", {len(f.pinned)} pinned" if f.pinned else "")
        )
    rr: render.RenderResult | None = st.get("render")
    if rr is not None and rr.written:
        lines.append(f"render:   {', '.join(rr.written)} -> {r.outputs['specs']}")
    lic = st.get("license")  # emtk3s.stages.license.LicenseStageResult
    if lic is not None and lic.changelog_changed:
        lines.append(f"license:  {', '.join(lic.changelog_changed)} changelog updated")
    # an unverified License: tag is said on its package's line (a no-op stays one line each)
    unverified = dict(lic.unverified) if lic is not None else {}
    v: validate.LintResult | None = st.get("validate")
    if v is not None and v.checked:
        lines.append(f"validate: {', '.join(v.checked)} (rpmspec -P, rpmlint)")
        lines += v.license_notes()
    srpms: srpm.SrpmResult | None = st.get("srpm")
    built: build.BuildResult | None = st.get("build")
    by_pkg = {b.package: b for b in built.builds} if built is not None else {}
    infos = srpms.srpms if srpms is not None else []
    rows = []
    for s in infos:
        row = [s.package, s.nevr.removeprefix(s.package + "-"), "srpm"]
        row[2] += " up to date" if s.skipped else " built"
        b = by_pkg.get(s.package)
        if b is not None:
            n = len(b.rpms)
            row[2] += f", {n} rpm{'s' if n != 1 else ''} {b.status} ({b.backend or 'rpmbuild'})"
        rows.append(row)
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
    for row in rows:
        cells = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        line = f"{cells}  -> {r.outputs['rpms'] if built else r.outputs['srpms']}"
        why = unverified.pop(row[0], None)
        lines.append(line + (f"; license not verified: {why}" if why else ""))
    lines += [f"license:  {p} not verified: {why}" for p, why in unverified.items()]
    if r.stopped:
        lines.append(f"stopped:  {r.stopped}")
    return lines


command = all_cmd
