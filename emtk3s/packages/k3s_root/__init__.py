"""k3s-root built from source natively (no Dapper, no Docker): buildroot at the version k3s-root
pins, k3s-root's overlay and patches, every download pre-fetched into one Source."""

from __future__ import annotations

from pathlib import Path

from emtk3s.model.package import GenerateContext, PackageDef, SourceRule
from emtk3s.packages.k3s_root.bundle import BUNDLE
from emtk3s.packages.k3s_root.components import COMPONENTS

__all__ = ["COMPONENTS", "PACKAGE"]


def _dl(ctx: GenerateContext) -> Path:
    from emtk3s.packages.k3s_root.downloads import make_dl

    root = ctx.components["k3s-root"]
    version = root.tag.removeprefix("v")
    br_name = f"buildroot-{root.facts['buildroot_version']}.tar.gz"
    return make_dl(
        ctx.inputs[br_name],
        ctx.inputs[f"k3s-root-{version}.tar.gz"],
        list(ctx.release.arches),
        ctx.workdir / f"k3s-root-{version}-dl.tar.gz",
        root.commit_time or 0,
        ctx.workdir,
    )


PACKAGE = PackageDef(
    name="k3s-root",
    component="k3s-root",
    components=("buildroot",),
    summary="The k3s-root userspace for K3s, built from source with buildroot",
    bundle=BUNDLE,
    sources=(
        SourceRule(
            "k3s-root-{version}.tar.gz",
            "github",
            "/k3s-io/k3s-root/archive/refs/tags/{tag}.tar.gz",
            archive_of="k3s-root",
            key="k3s_root",
        ),
        SourceRule(
            "buildroot-{facts[buildroot_version]}.tar.gz",
            "github",
            "/buildroot/buildroot/archive/refs/tags/{facts[buildroot_version]}.tar.gz",
            archive_of="buildroot",
            key="buildroot",
        ),
        SourceRule(
            "k3s-root-{version}-dl.tar.gz",
            "github",
            "generated:buildroot-make-source:{commit}",
            generate=_dl,
            key="dl",
        ),
    ),
)
