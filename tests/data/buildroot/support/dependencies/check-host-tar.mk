# Stand-in (our own text) for buildroot's support/dependencies/check-host-tar.mk at 2024.02.7
# (commit 8824652187e4b80ac314b448c2e60e5c6fdebf1b): without a suitable host tar, buildroot builds its own (host-tar).
TAR ?= tar
ifeq (,$(call suitable-host-package,tar,$(TAR)))
TAR = $(HOST_DIR)/bin/tar
BR2_TAR_HOST_DEPENDENCY = host-tar
endif
