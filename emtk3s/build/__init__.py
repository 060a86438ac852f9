"""build: SRPMS -> RPMS through a backend (rpmbuild here; chroot and mock in their modules)."""
