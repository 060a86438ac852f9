#!/bin/bash
# fixture stand-in for k3s-io/k3s scripts/build-common-env-vars.sh
# (a2b936df343ac85c67912e09c495639610897fa6); our own text: version.sh sourced, the -X version
# flags (no Go version: main stamps none), tags, STATIC_BUILD and SELINUX.
# shellcheck disable=SC1091,SC2034
set -e -x
. ./scripts/version.sh
GO=${GO-go}
PKG_CNI_PLUGINS=github.com/containernetworking/plugins
VERSIONFLAGS="
 -X main.version=${VERSION}
 -X main.commit=${COMMIT}
 -X main.k8sVersion=${VERSION_K8S}
 -X github.com/containerd/containerd/v2/version.Version=${VERSION_CONTAINERD}
 -X main.runcVersion=${VERSION_RUNC}
 -X ${PKG_CNI_PLUGINS}/pkg/utils/buildversion.BuildVersion=${VERSION_CNIPLUGINS}
 -X ${PKG_CNI_PLUGINS}/plugins/meta/flannel.Program=flannel
 -X ${PKG_CNI_PLUGINS}/plugins/meta/flannel.Version=${VERSION_FLANNEL_PLUGIN}+${VERSION_FLANNEL}
"
STATIC="-extldflags '-static -lm -ldl -lz -lpthread'"
TAGS="apparmor seccomp netcgo osusergo providerless urfave_cli_no_docs"
RUNC_TAGS="apparmor seccomp"
RUNC_STATIC="static"
if [ "$SELINUX" = "true" ]; then
    TAGS="$TAGS selinux"
    RUNC_TAGS="$RUNC_TAGS selinux"
fi
if [ "$STATIC_BUILD" != "true" ]; then
    STATIC=""
    RUNC_STATIC=""
else
    TAGS="static_build libsqlite3 $TAGS"
fi
mkdir -p bin
