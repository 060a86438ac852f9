#!/bin/bash
# fixture stand-in for k3s-io/k3s scripts/build-runc.sh
# (a2b936df343ac85c67912e09c495639610897fa6); our own text.
# shellcheck disable=SC1091
set -e -x
. ./scripts/build-common-env-vars.sh
GOPATH=$(pwd)/build
export GOPATH
pushd ./build/src/github.com/opencontainers/runc
rm -f runc
# shellcheck disable=SC2086 # empty unless STATIC_BUILD (a make target)
make GO="${GO}" BUILDTAGS="$RUNC_TAGS" $RUNC_STATIC
popd
cp -vf ./build/src/github.com/opencontainers/runc/runc ./bin/
