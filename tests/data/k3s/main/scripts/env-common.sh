#!/bin/bash
# fixture stand-in for k3s-io/k3s scripts/env-common.sh (a2b936df343ac85c67912e09c495639610897fa6):
# where download puts what it fetches; our own text.
# shellcheck disable=SC2034
CHARTS_DIR=build/static/charts
RUNC_DIR=build/src/github.com/opencontainers/runc
CONTAINERD_DIR=build/src/github.com/containerd/containerd
CNI_PLUGINS_DIR=build/src/github.com/containernetworking/plugins
DATA_DIR=build/data
