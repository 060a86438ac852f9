# Stand-in (our own text) for buildroot's support/dependencies/check-host-xzcat.mk at
# 2024.02.7 (commit 8824652187e4b80ac314b448c2e60e5c6fdebf1b): without xzcat, buildroot builds host-xz.
XZCAT ?= xzcat
ifeq (,$(call suitable-host-package,xzcat,$(XZCAT)))
BR2_XZCAT_HOST_DEPENDENCY = host-xz
XZCAT = $(HOST_DIR)/bin/xzcat
endif
