#!/bin/bash
# fixture stand-in for k3s-io/k3s scripts/build-cni.sh
# (a2b936df343ac85c67912e09c495639610897fa6); our own text: bin/cni from the plugins tree
# download cloned (flannel's plugin renamed into package flannel), unless it exists.
# shellcheck disable=SC1091
set -e -x
. ./scripts/env-common.sh
. ./scripts/build-common-env-vars.sh
INSTALLBIN=$(pwd)/bin
if [ ! -x "${INSTALLBIN}/cni" ]; then
(
    GOLANG_GOPATH=$(pwd)/build
    cd "$CNI_PLUGINS_DIR"
    sed -i 's/package main/package flannel/; s/func main/func Main/' plugins/meta/flannel/*.go
    GO111MODULE=off GOPATH=$GOLANG_GOPATH CGO_ENABLED=0 "${GO}" build -tags "$TAGS" -ldflags "$VERSIONFLAGS $STATIC" -o "$INSTALLBIN/cni"
)
fi
