"""CoreDNS for K3s' coredns image (rancher/mirrored-coredns-coredns), built in Go from
coredns/coredns at the tag the K3s tag's image list names, with a Go vendor tarball made by
emtk3s (`emtk3s vendor`), as upstream's Makefile builds it (CGO_ENABLED=0,
``-ldflags "-s -w -X .../coremain.GitCommit=..."``). Installed under a private prefix, so it
never clashes with EMT's own coredns package."""

from __future__ import annotations

from emtk3s.packages.k3s_addon_images.payload import go_payload

COMPONENTS, PACKAGE = go_payload(
    package="k3s-addon-coredns",
    component="coredns",
    repo="coredns/coredns",
    image="coredns",
    dockerfile="Dockerfile",
    summary="CoreDNS for the K3s coredns image, built from source",
    archive_key="coredns",
)
