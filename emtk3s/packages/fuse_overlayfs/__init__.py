"""fuse-overlayfs, as k3s-root builds it (an RPM of its own for EMT)."""

from __future__ import annotations

from emtk3s.model.package import ComponentDef, PackageDef, SourceRule
from emtk3s.packages.k3s_root.pins import k3s_root_context, pinned_by_k3s_root

COMPONENTS = (
    ComponentDef(
        "fuse-overlayfs",
        "containers/fuse-overlayfs",
        tag=pinned_by_k3s_root("fuse-overlayfs"),
        needs=("buildroot",),
    ),
)

PACKAGE = PackageDef(
    name="fuse-overlayfs",
    component="fuse-overlayfs",
    summary="FUSE implementation of overlayfs for rootless containers",
    context=k3s_root_context,
    on_image=False,  # K3s runs the copy k3s-root embeds; an image needs no RPM of it
    sources=(
        # the URL buildroot downloads (its .hash pins these bytes)
        SourceRule(
            "fuse-overlayfs-{version}.tar.gz",
            "github",
            "/containers/fuse-overlayfs/archive/{tag}/fuse-overlayfs-{version}.tar.gz",
            archive_of="fuse-overlayfs",
        ),
    ),
)
