# Stand-in (our own text) for buildroot's support/dependencies/check-host-lzip.mk at 2024.02.7
# (commit 8824652187e4b80ac314b448c2e60e5c6fdebf1b): without lzip, buildroot builds host-lzip (needed only by .tar.lz downloads:
# none in this tree).
LZCAT ?= lzip -d -c
ifeq (,$(call suitable-host-package,lzip,$(LZCAT)))
BR2_LZIP_HOST_DEPENDENCY = host-lzip
LZCAT = $(HOST_DIR)/bin/lzip -d -c
endif
