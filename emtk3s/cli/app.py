"""The command line: each command parses, calls one library function, prints its result."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from emtk3s import __version__
from emtk3s.cli import chain as cli_chain
from emtk3s.cli import emt as cli_emt
from emtk3s.cli import vendor as cli_k3s
from emtk3s.cli.runner import Ctx, MainGroup, date_opt, package_opt, run, setup_logging
from emtk3s.infra.http import Policy
from emtk3s.model import lock as lockmod
from emtk3s.stages import build, render, resolve, srpm, validate
from emtk3s.stages import fetch as fetch_stage
from emtk3s.stages.all import STAGES, AllResult, run_all
from emtk3s.stages.context import Options


@click.group(cls=MainGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="emtk3s")
@click.option(
    "-C",
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project directory (holds release.toml, emtk3s.lock, SPECS/); default: the nearest "
    "directory upwards that holds release.toml.",
)
@click.option(
    "--release",
    "release_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="release.toml to use (default: PROJECT/release.toml).",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="EMTK3S_CACHE",
    help="Cache directory (default: $XDG_CACHE_HOME/emtk3s; env EMTK3S_CACHE).",
)
@click.option(
    "--mirror",
    "mirrors",
    multiple=True,
    metavar="NAME=URL",
    help="Override an upstream base URL: github, raw, k3s_charts (env EMTK3S_MIRROR_<NAME>).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout (for CI).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or result lines.")
@click.option(
    "--verify",
    is_flag=True,
    envvar="EMTK3S_VERIFY",
    help="Rehash every cached source, SRPM and RPM instead of trusting the stat record taken "
    "when it was verified (--locked implies it; env EMTK3S_VERIFY=1).",
)
@click.pass_context
def main(
    cctx: click.Context,
    project_dir: Path | None,
    release_file: Path | None,
    cache_dir: Path | None,
    mirrors: tuple[str, ...],
    as_json: bool,
    debug: bool,
    quiet: bool,
    verify: bool,
) -> None:
    """Turn an upstream K3s release into from-source RPMs for the Edge Microvisor Toolkit."""
    cctx.obj = Ctx(
        project_dir, release_file, cache_dir, mirrors, as_json, debug, quiet or as_json, verify
    )
    setup_logging(cctx.obj)


@main.command("resolve")
@click.option(
    "--refresh", is_flag=True, help="Contact upstream even when the lock matches release.toml."
)
@click.option(
    "--repin", is_flag=True, help="Accept upstream tags that moved (after you verified them)."
)
@click.option("--locked", is_flag=True, help="Fail if the lock would change.")
@click.option("--offline", is_flag=True, help="Never contact upstream.")
def resolve_cmd(refresh: bool, repin: bool, locked: bool, offline: bool) -> None:
    """release.toml -> emtk3s.lock (tags, commits, sources)."""

    def go(ctx: Ctx) -> tuple[resolve.ResolveResult, Callable[[resolve.ResolveResult], None]]:
        p = ctx.project()
        r = resolve.run(
            ctx.stage_run(p, Options(refresh=refresh, repin=repin, locked=locked, offline=offline))
        )

        def human(r: resolve.ResolveResult) -> None:
            for name, c in sorted(r.lock.components.items()):
                click.echo(f"{name:10} {c.tag:16} {c.commit}")
            for ch in r.changes:
                click.echo(f"changed: {ch['component']} {ch['old']} -> {ch['new']}")
            for u in r.unpinned:
                click.echo(f"unpinned: {u} (emtk3s fetch pins it)")
            click.echo(f"lock {'updated' if r.changed else 'unchanged'}: {p.lock_file}")

        return r, human

    run("resolve", go)


@main.command("fetch")
@package_opt
@click.option("--offline", is_flag=True, help="Only check the cache; list what is missing.")
@click.option("--locked", is_flag=True, help="Fail if a source is unpinned.")
@click.option("-j", "--jobs", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--retries", default=4, show_default=True, type=click.IntRange(0, 20))
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(0.1, 3600))
def fetch_cmd(
    packages: tuple[str, ...], offline: bool, locked: bool, jobs: int, retries: int, timeout: float
) -> None:
    """Download every source into the verified cache."""

    def go(ctx: Ctx) -> tuple[fetch_stage.FetchResult, Callable[[fetch_stage.FetchResult], None]]:
        p = ctx.project()
        opts = Options(
            packages=packages,
            offline=offline,
            locked=locked,
            policy=Policy(retries=retries, timeout=timeout, jobs=jobs),
        )
        r = fetch_stage.run(ctx.stage_run(p, opts))

        def human(r: fetch_stage.FetchResult) -> None:
            click.echo(f"fetch: {r.downloaded} downloaded, {r.cached} cached, cache {p.cache.root}")
            for m in r.missing:
                click.echo(f"missing: {m}")
            for m in r.pinned:
                click.echo(f"pinned: {m}")

        return r, human

    run("fetch", go)


@main.command("render")
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

        return r, human

    run("render", go)


@main.command("validate")
@package_opt
def validate_cmd(packages: tuple[str, ...]) -> None:
    """rpmspec -P for each arch, no network command in build sections, rpmlint."""

    def go(ctx: Ctx) -> tuple[validate.LintResult, Callable[[validate.LintResult], None]]:
        p = ctx.project()
        r = validate.run(ctx.stage_run(p, Options(packages=packages)))

        def human(r: validate.LintResult) -> None:
            for n in r.checked + r.skipped:
                click.echo(f"valid: {p.specs / n}")
            for line in r.license_notes():
                click.echo(line)

        return r, human

    run("validate", go)


@main.command("srpm")
@package_opt
@click.option("--force", is_flag=True, help="Rebuild even when up to date.")
def srpm_cmd(packages: tuple[str, ...], force: bool) -> None:
    """SPECS/ + cache -> SRPMS/ (reproducible: same inputs, same bytes)."""

    def go(ctx: Ctx) -> tuple[srpm.SrpmResult, Callable[[srpm.SrpmResult], None]]:
        p = ctx.project()
        r = srpm.run(ctx.stage_run(p, Options(packages=packages, force=force)))

        def human(r: srpm.SrpmResult) -> None:
            for s in r.srpms:
                how = "up to date" if s.skipped else "built"
                click.echo(f"{how}: {s.path} ({s.nevr}, sha256 {s.sha256})")

        return r, human

    run("srpm", go)


@main.command("build")
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
def build_cmd(
    packages: tuple[str, ...],
    backend: str,
    chroot: Path | None,
    mock_repo: str | None,
    nodeps: bool,
    force: bool,
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


@main.command("all")
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
        lines += v.license_notes()
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


@main.command("license-check")
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


@main.command("show")
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


# commands kept in their own modules (one concern each)
for _mod in (cli_chain, cli_emt, cli_k3s):
    for _cmd in _mod.COMMANDS:
        main.add_command(_cmd)


if __name__ == "__main__":
    main()
