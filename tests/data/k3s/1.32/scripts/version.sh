#!/bin/bash
# fixture stand-in for k3s-io/k3s scripts/version.sh at v1.32.4+k3s1
# (6b330558e47a257134434508c851193bb4e9bf9d); our own text with its behaviour: module versions
# from `go list -m` (a replace wins), hard-coded CNI / flannel plugin / k3s-root versions,
# VERSION_GOLANG from a network lookup assigned unconditionally (offline: just "go"), and the
# tag must start with the Kubernetes version.
# shellcheck disable=SC1091,SC2034
GO=${GO-go}
ARCH=${ARCH:-$("${GO}" env GOARCH)}
OS=${OS:-$("${GO}" env GOOS)}
. ./scripts/git_version.sh

get-module-version(){
  "${GO}" list -m -f '{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' "$1"
}
get-module-path(){
  "${GO}" list -m -f '{{if .Replace}}{{.Replace.Path}}{{else}}{{.Path}}{{end}}' "$1"
}

PKG_CONTAINERD_K3S=$(get-module-path github.com/containerd/containerd/v2)
VERSION_CONTAINERD=$(get-module-version github.com/containerd/containerd/v2)
if [ -z "$VERSION_CONTAINERD" ]; then
    VERSION_CONTAINERD="v0.0.0"
fi
VERSION_K8S_K3S=$(get-module-version k8s.io/kubernetes)
VERSION_K8S=${VERSION_K8S_K3S%-k3s*}
if [ -z "$VERSION_K8S" ]; then
    VERSION_K8S="v0.0.0"
fi
VERSION_RUNC=$(get-module-version github.com/opencontainers/runc)
if [ -z "$VERSION_RUNC" ]; then
    VERSION_RUNC="v0.0.0"
fi
VERSION_FLANNEL=$(get-module-version github.com/flannel-io/flannel)
if [ -z "$VERSION_FLANNEL" ]; then
    VERSION_FLANNEL="v0.0.0"
fi

VERSION_CNIPLUGINS="v1.6.0-k3s1"
VERSION_FLANNEL_PLUGIN="v1.6.0-flannel1"
VERSION_ROOT="v0.14.1"
VERSION_HELM_JOB="v0.9.4-build20250113"

VERSION_GOLANG="go"$(curl -sL "https://raw.githubusercontent.com/kubernetes/kubernetes/${VERSION_K8S}/.go-version" | tr -d '[:space:]')

if [ -n "$GIT_TAG" ]; then
    if [[ ! "$GIT_TAG" =~ ^"$VERSION_K8S"[+-] ]]; then
        echo "Tagged version '$GIT_TAG' does not match expected version '${VERSION_K8S}[+-]*'" >&2
        exit 1
    fi
    VERSION=$GIT_TAG
else
    VERSION="$VERSION_K8S+k3s-${COMMIT:0:8}$DIRTY"
fi
