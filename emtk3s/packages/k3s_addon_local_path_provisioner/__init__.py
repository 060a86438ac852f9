"""local-path-provisioner for K3s' local-storage image (rancher/local-path-provisioner), built in
Go from rancher/local-path-provisioner at the tag the K3s tag's image list names, with a Go
vendor tarball made by emtk3s, as its scripts/build builds it (CGO_ENABLED=0, ``-X
main.VERSION=<tag> -extldflags -static -s -w``). Its upstream image is Alpine; ours is k3s-root's
busybox userland (k3s-addon-images). Installed under a private prefix."""

from __future__ import annotations

from emtk3s.packages.k3s_addon_images.payload import go_payload

COMPONENTS, PACKAGE = go_payload(
    package="k3s-addon-local-path-provisioner",
    component="local-path-provisioner",
    repo="rancher/local-path-provisioner",
    image="local-path-provisioner",
    dockerfile="package/Dockerfile",
    summary="local-path-provisioner for the K3s local-storage image, built from source",
    archive_key="lpp",
)
