#!/bin/sh
# Stand-in (our own text) for the autogen.sh of containers/fuse-overlayfs v1.11 (commit
# 68c31d14b020d0df9288d09181e9c8ca1889a967) and rootless-containers/slirp4netns v1.2.0 (commit
# 656041d45cfca7a4176f6b7eed9e4fe6c11e8383): the same one step.
exec autoreconf -fis
