"""k3s-root built from source natively (no Dapper, no Docker): buildroot at the version k3s-root
pins, with k3s-root's own scripts/patch, scripts/build and scripts/package; every download
buildroot makes is a Source of its own (buildroot's show-info list, pinned by buildroot's hashes)."""

from __future__ import annotations

from emtk3s.model.package import PackageDef, SourceRule
from emtk3s.packages.k3s_root.bundle import BUNDLE
from emtk3s.packages.k3s_root.components import COMPONENTS
from emtk3s.packages.k3s_root.downloads import listed

__all__ = ["COMPONENTS", "PACKAGE"]


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
    ),
    listed=listed,
    # buildroot's facts for the template: the download list, License, host tools
    context=lambda comps: {"br": comps["buildroot"].facts if "buildroot" in comps else {}},
)
