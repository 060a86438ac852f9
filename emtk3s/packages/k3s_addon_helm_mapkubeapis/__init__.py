"""klipper-helm's helm-mapkubeapis plugin (helm/helm-mapkubeapis at the tag its Dockerfile
names), built in Go as its Makefile's ``make`` (build) target does in that Dockerfile:
CGO_ENABLED=0, ``-ldflags "-X main.version=${VERSION}"`` with VERSION unset there (empty);
installed with its plugin.yaml and config/Map.yaml as the Dockerfile copies them. Under a
private prefix."""

from __future__ import annotations

from emtk3s.packages.k3s_addon_klipper_helm import go_package

COMPONENTS, PACKAGE = go_package(
    package="k3s-addon-helm-mapkubeapis",
    component="helm-mapkubeapis",
    repo="helm/helm-mapkubeapis",
    fact="mapkubeapis_tag",
    summary="klipper-helm's helm-mapkubeapis plugin, built from source",
)
