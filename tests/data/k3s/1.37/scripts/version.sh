#!/bin/bash
# fixture stand-in for k3s-io/k3s scripts/version.sh of the 1.37 era
# (as at v1.37.0+k3s1); our own text with its behaviour: module versions
# from `go list -m` (a replace wins), hard-coded CNI / flannel plugin / k3s-root versions,
# VERSION_GOLANG from a network lookup assigned unconditionally (offline: just "go"), and the
# tag must start with the Kubernetes version; the prebuilt k3s-root's sha256 per architecture.
# shellcheck disable=SC1091,SC2034
GO=${GO-go}
ARCH=${ARCH:-$("${GO}" env GOARCH)}
OS=${OS:-$("${GO}" env GOOS)}
. ./scripts/git_version.sh

get-module-version(){
  go list -mod=readonly -m -f '{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' "$1"
}
get-module-path(){
  go list -mod=readonly -m -f '{{if .Replace}}{{.Replace.Path}}{{else}}{{.Path}}{{end}}' "$1"
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

VERSION_CNIPLUGINS="v1.9.1-k3s1"
VERSION_FLANNEL_PLUGIN="v1.9.0-flannel1"
VERSION_ROOT="v0.15.2"
case ${ARCH} in
    amd64)
      K3S_ROOT_SHA256=9e56393cf828583b50b6b0e66cc47cb6a5e1d0489eab1436421bc20c56c0cf65
    ;;
    arm)
      K3S_ROOT_SHA256=af8614e5b9e2f87d30bd4387c512703c6bf2bc53a3764e5181ef2f2eaccab8d2
    ;;
    arm64)
      K3S_ROOT_SHA256=7a754f4aeb1771b2b147ac8ff48fbc0a152f4ab1c6b4f16f94b1121e5eaaba50
    ;;
    riscv64)
      K3S_ROOT_SHA256=3b76a4a5bfc5c8623702a3b99e3015cd36b0336dd73c7ba4a765d018dc5a9685
    ;;
    *)
      echo "[ERROR] unsupported architecture: ${ARCH}"
      exit 1
    ;;
esac
VERSION_HELM_JOB="v0.13.2-build20260610"

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
