#!/bin/sh
# Stand-in (our own text) for buildroot's support/dependencies/check-host-tar.sh at 2024.02.7
# (commit 8824652187e4b80ac314b448c2e60e5c6fdebf1b). Same contract: prints the path of the candidate tar ($1, else the tar on
# PATH) when it is fit, else prints nothing and fails. Fit: not bsdtar, and version 1.27 to
# 1.34 (older ones mis-unpack hard links with --strip-components; 1.35 changed the
# devmajor/devminor fields buildroot's reproducible tarballs depend on).
tar_bin=$(command -v "${1:-tar}" 2>/dev/null) || tar_bin=$(command -v tar 2>/dev/null) || exit 1
first=$("$tar_bin" --version 2>/dev/null | head -n 1)
case $first in *bsdtar*) exit 1 ;; esac
version=
for word in $first; do
  case $word in [0-9]*.[0-9]*) version=$word ;; esac
done
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
case $major$minor in '' | *[!0-9]*) exit 1 ;; esac
[ "$major" -eq 1 ] && [ "$minor" -ge 27 ] && [ "$minor" -le 34 ] || exit 1
echo "$tar_bin"
