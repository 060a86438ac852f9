#!/bin/bash
# fixture stand-in for k3s-io/k3s scripts/build-k3s.sh
# (a2b936df343ac85c67912e09c495639610897fa6); our own text.
# shellcheck disable=SC1091
set -e -x
. ./scripts/build-common-env-vars.sh
mkdir -p pkg/static/embed
cp -av build/static/* pkg/static/embed/
CGO_ENABLED=1 "${GO}" build -tags "$TAGS" -ldflags "$VERSIONFLAGS $STATIC" -o bin/k3s ./cmd/server
for i in k3s-agent k3s-server kubectl crictl ctr containerd; do
    rm -f "bin/$i"
    ln -s k3s "bin/$i"
done
