"""Helm for K3s' helm-controller job image (rancher/klipper-helm), built in Go from helm/helm
at the release klipper-helm's Dockerfile downloads prebuilt (v3.16.4 for klipper-helm
v0.9.5-build20250306), with a Go vendor tarball made by emtk3s, as helm's Makefile builds it
(CGO_ENABLED=0, -trimpath, ``-ldflags "-w -s -X .../internal/version.{version,metadata,gitCommit,
gitTreeState}=... -X .../{lint/rules,chartutil}.k8sVersion{Major,Minor}=..."``, the Kubernetes
version from go.mod's k8s.io/client-go). Installed under a private prefix, never on PATH: EMT
has its own helm."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from emtk3s.infra.errors import InputError
from emtk3s.packages.k3s_addon_klipper_helm import go_package

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout

_CLIENT_GO = re.compile(
    r"^\s*(?:require\s+)?k8s\.io/client-go\s+v0\.(?P<minor>[0-9]+)\.[0-9]+\s*$", re.M
)


def _facts(checkout: TagCheckout) -> dict[str, Any]:
    """The Kubernetes version helm's Makefile stamps: client-go v0.<minor>.x -> 1.<minor>."""
    where = f"helm/helm {checkout.info.tag}:go.mod"
    text = checkout.read("go.mod").decode("utf-8", "replace") if checkout.exists("go.mod") else ""
    m = _CLIENT_GO.search(text)
    if not m:
        raise InputError(f"{where}: no k8s.io/client-go v0.N.x requirement", "report it")
    return {"k8s_major": "1", "k8s_minor": m.group("minor")}


COMPONENTS, PACKAGE = go_package(
    package="k3s-addon-helm",
    component="helm",
    repo="helm/helm",
    fact="helm_tag",
    summary="Helm for the K3s helm-controller job image (klipper-helm), built from source",
    facts=_facts,
)
