#!/bin/bash
# fixture stand-in for k3s-io/k3s scripts/platform.sh on main
# (e2848fadb29acca3c90ae01cebc785bc4c42bc14); our own text with its behaviour: OS and ARCH from
# TARGETOS/TARGETARCH, GOOS/GOARCH or go env, exported with the artifact suffixes.
# shellcheck disable=SC2034
GO=${GO-go}

target_os=${TARGETOS:-${GOOS:-}}
target_arch=${TARGETARCH:-${GOARCH:-}}
OS=${OS:-${target_os:-$("${GO}" env GOOS)}}
ARCH=${ARCH:-${target_arch:-$("${GO}" env GOARCH)}}

case "${ARCH}" in
  armv7l|arm/v7)
    ARCH=arm
    export GOARM=7
    ;;
esac

export OS ARCH
export GOOS=${GOOS:-${OS}}
export GOARCH=${GOARCH:-${ARCH}}

SUFFIX="-${ARCH}"
BIN_SUFFIX="-${ARCH}"
case "${ARCH}" in
  amd64)
    BIN_SUFFIX=""
    ;;
  arm)
    BIN_SUFFIX="-armhf"
    ;;
esac

BINARY_POSTFIX=
if [ "${OS}" = windows ]; then
  BINARY_POSTFIX=.exe
fi

export SUFFIX BIN_SUFFIX BINARY_POSTFIX
