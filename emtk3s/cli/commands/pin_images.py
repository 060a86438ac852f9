"""emtk3s pin-images: a built package's image manifest digests, pinned in the lock."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from emtk3s.cli.runner import Ctx, run


@click.command("pin-images")
@click.option(
    "--package",
    "-p",
    "package",
    default=None,
    help="The package whose built archives are pinned (default: the one that writes images).",
)
@click.option(
    "--rpm",
    "rpms",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A built RPM of the package (repeatable; default: RPMS/<arch>/ at the lock's version).",
)
@click.option("--repin", is_flag=True, help="Accept a digest other than the one the lock pins.")
def pin_images_cmd(package: str | None, rpms: tuple[Path, ...], repin: bool) -> None:
    """Pin the manifest digest of every image archive a built package holds, per arch."""

    def go(ctx: Ctx) -> tuple[dict[str, Any], Callable[[dict[str, Any]], None]]:
        from emtk3s.workflows.pin_images import pin_images

        p = ctx.project()
        out = pin_images(p, ctx.release(p), package, list(rpms), repin=repin)

        def human(d: dict[str, Any]) -> None:
            for ref, by_arch in d["digests"].items():
                for arch, digest in by_arch.items():
                    click.echo(f"{ref} ({arch}): {digest}")
            for c in d["pinned"]:
                click.echo(f"pinned: {c['image']} ({c['arch']}) {c['old'] or 'unpinned'} -> {c['new']}")  # fmt: skip
            if d["pinned"]:
                click.echo(f"next: emtk3s render -p {d['package']} (its %check compares with them)")  # fmt: skip

        return out, human

    run("pin-images", go)


command = pin_images_cmd
