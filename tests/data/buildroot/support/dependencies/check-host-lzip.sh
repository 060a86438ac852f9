#!/bin/sh
# Stand-in (our own text) for buildroot's support/dependencies/check-host-lzip.sh at 2024.02.7
# (commit 8824652187e4b80ac314b448c2e60e5c6fdebf1b): the candidate ($1) or lzip on PATH, else nothing and a failure.
command -v "${1:-lzip}" 2>/dev/null || command -v lzip 2>/dev/null || exit 1
