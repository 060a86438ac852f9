"""metrics-server for K3s' metrics-server image (rancher/mirrored-metrics-server), built in Go
from kubernetes-sigs/metrics-server at the tag the K3s tag's image list names, with a Go vendor
tarball made by emtk3s, as upstream's Makefile builds it (CGO_ENABLED=0, the version stamped
into k8s.io/client-go/pkg/version). Installed under a private prefix."""

from __future__ import annotations

from emtk3s.packages.k3s_addon_images.payload import go_payload

COMPONENTS, PACKAGE = go_payload(
    package="k3s-addon-metrics-server",
    component="metrics-server",
    repo="kubernetes-sigs/metrics-server",
    image="metrics-server",
    dockerfile="Dockerfile",
    summary="metrics-server for the K3s metrics-server image, built from source",
    archive_key="metrics_server",
)
