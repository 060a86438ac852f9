"""Commands for EMT integration: emt integrate, compat, bump, check-updates, root-diff."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from emtk3s.cli.runner import Ctx, Group, date_opt, run
from emtk3s.model import lock as lockmod
from emtk3s.model import release as manifest

Result = tuple[dict[str, Any], Callable[[dict[str, Any]], None]]


@click.group("emt", cls=Group)
def emt_group() -> None:
    """Work with an EMT checkout."""


@emt_group.command("integrate")
@click.option("--emt-repo", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--image-config",
    "images",
    multiple=True,
    help="Image config file name under toolkit/imageconfigs (repeatable; default: the edge images).",
)
@click.option(
    "--package",
    "-p",
    "packages",
    multiple=True,
    help="Integrate only this rendered package (repeatable; default: every rendered one).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print every decision (pending sources marked) and the unified diff; write nothing.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Remove other copies of our specs (e.g. SPECS-EXTENDED/<pkg>) and overwrite hand edits.",
)
@click.option("--allow-downgrade", is_flag=True, help="Accept a version older than EMT's.")
@click.option(
    "--check",
    "run_checks",
    is_flag=True,
    help="Then run EMT's own CI checks the checkout contains, per spec (exit 5 when one fails).",
)
def integrate_cmd(
    emt_repo: Path,
    images: tuple[str, ...],
    packages: tuple[str, ...],
    dry_run: bool,
    replace: bool,
    allow_downgrade: bool,
    run_checks: bool,
) -> None:
    """Copy SPECS/ in, update cgmanifest.json, the license map, the k3s package list, image
    configs and the version record; as one change."""

    def go(ctx: Ctx) -> Result:
        from emtk3s.emt import checkout, emtci, integrate
        from emtk3s.infra.errors import BuildError
        from emtk3s.model.changelog import load_history
        from emtk3s.stages import render

        checkout.require(emt_repo)
        p = ctx.project()
        lock = lockmod.require(p.lock_file)
        pkgs = sorted(d.name for d in p.specs.iterdir() if d.is_dir()) if p.specs.is_dir() else []
        if pkgs:  # what goes into EMT is what the templates render, not a hand edit
            render.render(ctx.release(p), lock, p, pkgs, check=True, history=load_history(p.root))
        recovered = "" if dry_run else integrate.recover(emt_repo)
        chosen = list(images) or integrate.default_images(emt_repo)
        plan = integrate.plan(
            emt_repo, p.specs, lock, chosen, replace, allow_downgrade, list(packages) or None
        )
        diff = plan.diff()
        out: dict[str, Any] = {
            "emt_repo": str(emt_repo),
            "dry_run": dry_run,
            "decisions": [d.to_dict() for d in plan.decisions],
            "changed": plan.changed,
            "images": chosen,
            "diff": diff,
            "recovered": recovered,
        }
        if dry_run or any(d.action in ("refused", "pending") for d in plan.decisions):
            for d in plan.decisions:
                click.echo(f"decision: {d.line()}", err=True)
        if plan.refused:
            err = integrate.refusal(plan)
            err.details = diff if dry_run else ""
            err.result = out
            raise err
        if not dry_run:
            out["changed"] = integrate.apply(plan)
        if run_checks and not dry_run:
            specs = [
                f"SPECS/{d.package}/{d.package}.spec"
                for d in plan.decisions
                if d.action in integrate.WRITES
            ]
            rep = emtci.run_all(plan.root, specs)
            out["checks"] = rep.to_dict()
            if rep.failed:
                failed = BuildError(
                    "EMT checks failed: "
                    + ", ".join(f"{r.check} {r.spec or '(checkout)'}" for r in rep.failed),
                    rep.hint(),
                    details="\n".join(f"== {r.check} {r.spec}\n{r.output}" for r in rep.failed),
                )
                failed.result = out
                raise failed

        def human(d: dict[str, Any]) -> None:
            if dry_run:
                click.echo(d["diff"], nl=False)
            else:
                for dec in d["decisions"]:
                    click.echo(f"decision: {integrate.Decision(**dec).line()}")
            if d["recovered"]:
                click.echo(f"an interrupted integrate was {d['recovered']}")
            for c in d["changed"]:
                click.echo(f"{'would change' if dry_run else 'changed'}: {c}")
            if not d["changed"]:
                click.echo(f"up to date: {emt_repo}")
            for r in d.get("checks", {}).get("results", []):
                extra = f" ({r['output'].splitlines()[-1]})" if r["status"] == "skipped" else ""
                click.echo(f"check {r['check']}: {r['spec'] or '(checkout)'}: {r['status']}{extra}")

        return out, human

    run("emt integrate", go)


@emt_group.command("sources")
@click.option(
    "--copy-to",
    type=click.Path(file_okay=False, path_type=Path),
    help="Copy every file (by basename, with SHA256SUMS) into this directory for upload.",
)
def sources_cmd(copy_to: Path | None) -> None:
    """Every file EMT's source server needs for SPECS/ (generated tarballs included)."""

    def go(ctx: Ctx) -> Result:
        from emtk3s.emt import sources

        p = ctx.project()
        files = sources.listing(p.specs, p.cache)
        out: dict[str, Any] = {"files": files, "copied_to": None}
        if copy_to:
            out["copied_to"] = str(sources.copy_to(files, copy_to, p.cache))

        def human(d: dict[str, Any]) -> None:
            for f in d["files"]:
                size = "-" if f["size"] is None else str(f["size"])
                state = (
                    ""
                    if f["cached"]
                    else "  (not in the cache: run emtk3s fetch)"
                    if f["pinned"]
                    else "  (PENDING: generated, not pinned yet)"
                )
                click.echo(f"{f['sha256']}  {size:>10}  {f['name']}  [{f['package']}]{state}")
            if d["copied_to"]:
                click.echo(f"copied {len(d['files'])} files to {d['copied_to']}")

        return out, human

    run("emt sources", go)


@click.group("compat", cls=Group)
def compat_group() -> None:
    """K3s version compatibility between cluster templates and hosts (EMT images, Ubuntu)."""


def _verdict_human(d: dict[str, Any]) -> None:
    click.echo(d["message"])
    for w in d.get("warnings", []):
        click.echo(f"warning: {w}")


@compat_group.command("check")
@click.option(
    "--template", "template", required=True, help="A KThreesControlPlaneTemplate YAML or a K3s tag."
)
@click.option("--host", "host", required=True, help="An OS profile YAML, emt:<K3s tag>, or ubuntu.")
def compat_check(template: str, host: str) -> None:
    """Compatible (exit 0) or conflict (exit 9, HTTP 409 semantics)."""

    def go(ctx: Ctx) -> Result:
        from emtk3s.emt import compat

        v = compat.require_compatible(compat.parse_template(template), compat.parse_host(host))
        return v.to_dict(), _verdict_human

    run("compat check", go)


@compat_group.command("filter")
@click.option("--template", "templates", multiple=True, required=True)
@click.option("--host", "hosts", multiple=True, required=True)
def compat_filter(templates: tuple[str, ...], hosts: tuple[str, ...]) -> None:
    """Only the compatible (host, template) pairs."""

    def go(ctx: Ctx) -> Result:
        from emtk3s.emt import compat

        pairs = compat.filter_pairs(
            [compat.parse_host(h) for h in hosts], [compat.parse_template(t) for t in templates]
        )
        out = {
            "pairs": [
                {
                    "host": v.host.name,
                    "template": v.template.name,
                    "k3s": v.template.k3s.tag,
                    "reason": v.reason,
                }
                for v in pairs
            ]
        }

        def human(d: dict[str, Any]) -> None:
            for pr in d["pairs"]:
                click.echo(f"{pr['host']}\t{pr['template']}\t{pr['k3s']}\t{pr['reason']}")

        return out, human

    run("compat filter", go)


@compat_group.command("upgrade")
@click.option("--from", "from_", required=True, help="Current image: OS profile YAML or emt:<tag>.")
@click.option("--to", "to", required=True, help="New image: OS profile YAML or emt:<tag>.")
@click.option(
    "--policy", type=click.Choice(["any", "same-minor"]), default="same-minor", show_default=True
)
def compat_upgrade(from_: str, to: str, policy: str) -> None:
    """May a host move from one EMT image to another under the policy?"""

    def go(ctx: Ctx) -> Result:
        from emtk3s.emt import compat
        from emtk3s.infra.errors import ConflictError

        v = compat.upgrade(compat.parse_host(from_), compat.parse_host(to), policy)
        if not v.compatible:
            err = ConflictError(v.message, "use policy any, or an image of the same minor")
            err.result = v.to_dict()
            raise err
        return v.to_dict(), _verdict_human

    run("compat upgrade", go)


@compat_group.command("template")
@click.option("--name", default="k3s-control-plane", show_default=True)
@click.option("--k3s", "k3s", help="K3s tag (default: the lock's).")
@click.option("--ubuntu", is_flag=True, help="For Ubuntu hosts (no airGapped).")
def compat_template(name: str, k3s: str | None, ubuntu: bool) -> None:
    """Render the KThreesControlPlaneTemplate fragment (airGapped: true for EMT hosts)."""

    def go(ctx: Ctx) -> Result:
        from emtk3s.emt import compat
        from emtk3s.model.versions import K3sTag

        tag = (
            K3sTag.parse(k3s) if k3s else K3sTag.parse(lockmod.require(ctx.project().lock_file).k3s)
        )
        text = compat.control_plane_template(name, tag, emt=not ubuntu)

        def human(d: dict[str, Any]) -> None:
            click.echo(d["yaml"], nl=False)

        return {"yaml": text}, human

    run("compat template", go)


@click.command("bump")
@click.option("--k3s", "k3s", required=True, help="The new K3s tag, e.g. v1.32.7+k3s1.")
@click.option(
    "--allow-downgrade", is_flag=True, help="Accept an older K3s tag or older components."
)
@date_opt
def bump_cmd(k3s: str, allow_downgrade: bool, date: str | None) -> None:
    """The CVE fast path: new K3s tag -> release.toml, lock, cache, SPECS with a changelog entry."""

    def go(ctx: Ctx) -> Result:
        from emtk3s.emt import bump

        p = ctx.project()
        r = bump.bump(
            p,
            k3s,
            manifest.parse_mirror_flags(ctx.mirrors),
            date=date,
            allow_downgrade=allow_downgrade,
        )

        def human(d: dict[str, Any]) -> None:
            click.echo(f"K3s {d['old']} -> {d['new']}")
            for c in d["changes"]:
                down = " (downgrade)" if c["downgrade"] else ""
                click.echo(f"  {c['component']}: {c['old']} -> {c['new']}{down}")
            for w in d["warnings"]:
                click.echo(f"warning: {w}", err=True)
            for pkg, evr in d["changelog"].items():
                click.echo(f"  changelog: {pkg} {evr}")
            click.echo("ready to commit: release.toml emtk3s.lock changelog.json SPECS/")

        return r.to_dict(), human

    run("bump", go)


@click.command("check-updates")
def check_updates_cmd() -> None:
    """Newer upstream K3s tags of the same minor (git ls-remote on the github mirror)."""

    def go(ctx: Ctx) -> Result:
        from emtk3s.emt import bump

        p = ctx.project()
        out = bump.check_updates(ctx.release(p))

        def human(d: dict[str, Any]) -> None:
            if d["newer"]:
                click.echo(f"{d['current']}: newer {', '.join(d['newer'])}")
            else:
                click.echo(f"{d['current']}: up to date")

        return out, human

    run("check-updates", go)


@click.command("root-diff")
@click.option("--emt-repo", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--chroot",
    type=click.Path(file_okay=False, path_type=Path),
    help="A toolchain chroot directory.",
)
def root_diff_cmd(emt_repo: Path, chroot: Path | None) -> None:
    """The binaries a package's tree bundles against EMT's SPECS (and a chroot): counts, actions."""

    def go(ctx: Ctx) -> Result:
        from emtk3s.emt import rootdiff

        report = rootdiff.root_diff(lockmod.require(ctx.project().lock_file), emt_repo, chroot)

        def human(d: dict[str, Any]) -> None:
            click.echo(rootdiff.markdown(d), nl=False)

        return report, human

    run("root-diff", go)


COMMANDS: list[click.Command] = [
    emt_group,
    compat_group,
    bump_cmd,
    check_updates_cmd,
    root_diff_cmd,
]
