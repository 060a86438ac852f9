# Stand-in (our own text) for buildroot's support/dependencies/dependencies.mk at 2024.02.7
# (buildroot/buildroot commit 8824652187e4b80ac314b448c2e60e5c6fdebf1b): suitable-host-package runs
# support/dependencies/check-host-<tool>.sh with the candidate and gives the tool's path, or
# nothing when the host's tool is missing or unfit (BR2_FORCE_HOST_BUILD=y: always nothing);
# check-host-tar.mk is included first, then every other check-host-*.mk in sorted order.
ifeq ($(BR2_FORCE_HOST_BUILD),y)
suitable-host-package =
else
suitable-host-package = $(if $(1),$(shell support/dependencies/check-host-$(1).sh $(2)))
endif
include support/dependencies/check-host-tar.mk
-include $(sort $(filter-out %-tar.mk,$(wildcard support/dependencies/check-host-*.mk)))
