#!/bin/bash
# fixture stand-in for k3s-io/k3s scripts/git_version.sh (our own text): in a checkout it asks
# git; the spec's %prep replaces it with the tag's values
# shellcheck disable=SC2034
GIT_TAG=$(git describe --tags)
