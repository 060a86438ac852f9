"""The integration tier runs the real rpm tools (rpmbuild, rpmspec, rpmlint, createrepo_c) and
the rpm Python bindings; without them it stops at once with the one fix, rather than failing
test by test. The unit tier (tests/unit) needs none of them (tests/without_rpm.py proves it)."""

from __future__ import annotations

import shutil

import pytest

for tool in ("rpmbuild", "rpmspec", "rpmlint", "createrepo_c", "git", "rpm2cpio", "cpio"):
    if shutil.which(tool) is None:
        raise pytest.UsageError(f"{tool} is missing: run ./install.sh first")
try:
    import rpm  # noqa: F401
except ImportError:
    raise pytest.UsageError("the rpm Python bindings are missing: run ./install.sh first") from None
