#!/bin/bash
# fixture stand-in for k3s-io/k3s scripts/build-containerd.sh
# (a2b936df343ac85c67912e09c495639610897fa6); our own text: built where download put it.
# shellcheck disable=SC1091
set -e -x
. ./scripts/build-common-env-vars.sh
GOPATH=$(pwd)/build
export GOPATH
pushd ./build/src/github.com/containerd/containerd
TAGS="${TAGS/netcgo/netgo}"
CGO_ENABLED=1 "${GO}" build -tags "$TAGS" -ldflags "$VERSIONFLAGS $STATIC" -o bin/containerd-shim-runc-v2 ./cmd/containerd-shim-runc-v2
popd
cp -vf ./build/src/github.com/containerd/containerd/bin/* ./bin/
