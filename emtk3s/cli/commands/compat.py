"""emtk3s compat: K3s version compatibility of cluster templates and hosts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from emtk3s.cli.runner import Ctx, Group, run
from emtk3s.model.compat import Verdict

Result = tuple[dict[str, Any], Callable[[dict[str, Any]], None]]


@click.group("compat", cls=Group)
def compat_group() -> None:
    """K3s version compatibility between cluster templates and hosts (EMT images, Ubuntu)."""


def _verdict_human(v: Verdict) -> None:
    click.echo(v.message)
    for w in v.warnings:
        click.echo(f"warning: {w}")


@compat_group.command("check")
@click.option(
    "--template", "template", required=True, help="A KThreesControlPlaneTemplate YAML or a K3s tag."
)
@click.option("--host", "host", required=True, help="An OS profile YAML, emt:<K3s tag>, or ubuntu.")
def compat_check(template: str, host: str) -> None:
    """Compatible (exit 0) or conflict (exit 9, HTTP 409 semantics)."""

    def go(ctx: Ctx) -> tuple[Verdict, Callable[[Verdict], None]]:
        from emtk3s.model import compat

        v = compat.require_compatible(compat.parse_template(template), compat.parse_host(host))
        return v, _verdict_human

    run("compat check", go)


@compat_group.command("filter")
@click.option("--template", "templates", multiple=True, required=True)
@click.option("--host", "hosts", multiple=True, required=True)
def compat_filter(templates: tuple[str, ...], hosts: tuple[str, ...]) -> None:
    """Only the compatible (host, template) pairs."""

    def go(ctx: Ctx) -> Result:
        from emtk3s.model import compat

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

    def go(ctx: Ctx) -> tuple[Verdict, Callable[[Verdict], None]]:
        from emtk3s.infra.errors import ConflictError
        from emtk3s.model import compat

        v = compat.upgrade(compat.parse_host(from_), compat.parse_host(to), policy)
        if not v.compatible:
            err = ConflictError(v.message, "use policy any, or an image of the same minor")
            err.result = v
            raise err
        return v, _verdict_human

    run("compat upgrade", go)


@compat_group.command("template")
@click.option("--name", default="k3s-control-plane", show_default=True)
@click.option("--k3s", "k3s", help="K3s tag (default: the lock's).")
@click.option("--ubuntu", is_flag=True, help="For Ubuntu hosts (no airGapped).")
def compat_template(name: str, k3s: str | None, ubuntu: bool) -> None:
    """Render the KThreesControlPlaneTemplate fragment (airGapped: true for EMT hosts)."""

    def go(ctx: Ctx) -> Result:
        from emtk3s.model import compat
        from emtk3s.model.versions import K3sTag

        tag = K3sTag.parse(k3s) if k3s else K3sTag.parse(ctx.lock(ctx.project()).k3s)
        text = compat.control_plane_template(name, tag, emt=not ubuntu)

        def human(d: dict[str, Any]) -> None:
            click.echo(d["yaml"], nl=False)

        return {"yaml": text}, human

    run("compat template", go)


command = compat_group
