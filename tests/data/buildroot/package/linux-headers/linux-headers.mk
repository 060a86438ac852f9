# Stand-in (our own text) for buildroot's package/linux-headers/linux-headers.mk at 2024.02.7
# (commit 8824652187e4b80ac314b448c2e60e5c6fdebf1b): only the version (the post-install
# hooks come from the patches applied on top).
LINUX_HEADERS_VERSION = 6.6
