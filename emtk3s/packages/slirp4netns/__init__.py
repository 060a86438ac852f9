"""slirp4netns, as k3s-root builds it (an RPM of its own for EMT)."""

from __future__ import annotations

from emtk3s.model.package import ComponentDef, PackageDef, SourceRule
from emtk3s.packages.k3s_root.pins import k3s_root_context, pinned_by_k3s_root

COMPONENTS = (
    ComponentDef(
        "slirp4netns",
        "rootless-containers/slirp4netns",
        tag=pinned_by_k3s_root("slirp4netns"),
        needs=("buildroot",),
    ),
)

PACKAGE = PackageDef(
    name="slirp4netns",
    component="slirp4netns",
    summary="User-mode networking for unprivileged network namespaces",
    context=k3s_root_context,
    on_image=False,  # K3s runs the copy k3s-root embeds; an image needs no RPM of it
    sources=(
        SourceRule(
            "slirp4netns-{version}.tar.gz",
            "github",
            "/rootless-containers/slirp4netns/archive/{tag}/slirp4netns-{version}.tar.gz",
            archive_of="slirp4netns",
        ),
    ),
)
