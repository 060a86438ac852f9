"""Changelog entries (added, never rewritten; no wall clock) and the license check."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from emtk3s.infra.errors import InputError
from emtk3s.model import changelog
from emtk3s.model.licenses import _tag_keys, check, spec_license

ARGS = {
    "author": "A",
    "email": "a@b.c",
    "repo": "o/r",
    "tag": "v1.0",
    "commit_time": 1700000000,  # Tue Nov 14 2023
}
EMT = Path("/work/.mirror")
needs_licensecheck = pytest.mark.skipif(
    shutil.which("licensecheck") is None, reason="licensecheck is not installed (install.sh does)"
)


def test_first_entry_carries_emts_exact_attribution_line() -> None:
    entries, added = changelog.entries_for([], evr="1.0-1", **ARGS)  # type: ignore[arg-type]
    assert added and entries[0]["date"] == "Tue Nov 14 2023"
    # EMT's spec_source_attributions.py "Intel" rule: the line ends right after "Toolkit."
    assert entries[0]["lines"][0] == "Original version for Edge Microvisor Toolkit."
    assert "License verified." not in entries[0]["lines"]


def test_raised_release_is_a_new_entry_never_older_than_the_last() -> None:
    first, _ = changelog.entries_for([], evr="1.0-1", **ARGS)  # type: ignore[arg-type]
    second, added = changelog.entries_for(first, evr="1.0-2", epoch=0, **ARGS)  # type: ignore[arg-type]
    assert added and second[1] == first[0] and second[0]["lines"] == ["Bump release to 2."]
    assert second[0]["date"] == first[0]["date"]  # epoch 0 is older: clamped, not backwards
    later, _ = changelog.entries_for(first, evr="1.0-2", epoch=1750118400, **ARGS)  # type: ignore[arg-type]
    assert later[0]["date"] == "Tue Jun 17 2025"
    same, added = changelog.entries_for(second, evr="1.0-2", **ARGS)  # type: ignore[arg-type]
    assert not added and same == second


def test_user_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert changelog.user_epoch(None) is None
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1750118400")
    assert changelog.user_epoch(None) == 1750118400
    assert changelog.user_epoch("2025-06-18") == 1750204800  # --date wins
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        changelog.user_epoch("18.06.2025")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(InputError, match="SOURCE_DATE_EPOCH"):
        changelog.user_epoch(None)


def test_license_tag_must_be_spdx(tmp_path: Path) -> None:
    (tmp_path / "main.c").write_text("/* nothing */\n")
    r = check("x", "GPLv3+", tmp_path)
    assert not r.verified and "not a valid SPDX expression" in r.line()
    assert spec_license("Name: x\nLicense:        MIT AND BSD-3-Clause\n") == "MIT AND BSD-3-Clause"


@needs_licensecheck
def test_license_check_on_our_own_files(tmp_path: Path) -> None:
    (tmp_path / "main.c").write_text(
        "/* This program is free software; you can redistribute it and/or modify it under the\n"
        " * terms of the GNU General Public License as published by the Free Software Foundation;\n"
        " * either version 3 of the License, or (at your option) any later version. */\n"
    )
    (tmp_path / "m4").mkdir()  # the build system's own files are not the package's license
    (tmp_path / "m4" / "x.m4").write_text(
        "# This file is free software; the Free Software Foundation gives unlimited permission\n"
        "# to copy and/or distribute it, with or without modifications, as long as this notice\n"
        "# is preserved.\n"
    )
    ok = check("x", "GPL-3.0-or-later", tmp_path)
    assert ok.verified and ok.line() == "License verified.", ok.differs
    bad = check("x", "GPL-2.0-or-later", tmp_path)
    assert not bad.verified
    assert bad.line() == (
        "License not verified: GPL-3.0-or-later in main.c is not in License: GPL-2.0-or-later."
    )


def _snapshot(repo: str, tag: str, dest: Path) -> Path:
    git_dir = EMT / repo / "repo"
    if not git_dir.is_dir():
        pytest.skip(f"no snapshot of {repo} here ({git_dir})")
    dest.mkdir()
    arch = subprocess.run(
        ["git", f"--git-dir={git_dir}", "archive", tag], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=arch, check=True)
    return dest


@needs_licensecheck
def test_real_fuse_overlayfs_is_gpl3_or_later(tmp_path: Path) -> None:
    tree = _snapshot("containers+fuse-overlayfs", "v1.11", tmp_path / "t")
    assert check("fuse-overlayfs", "GPL-3.0-or-later", tree).verified
    old = check("fuse-overlayfs", "GPL-2.0-or-later", tree)  # what our template said before
    assert not old.verified and "GPL-3.0-or-later in direct.c" in old.line()


@needs_licensecheck
def test_real_slirp4netns_names_what_differs(tmp_path: Path) -> None:
    tree = _snapshot("rootless-containers+slirp4netns", "v1.2.0", tmp_path / "t")
    r = check("slirp4netns", "GPL-2.0-only", tree)
    assert not r.verified
    assert "MIT in vendor/parson/LICENSE" in r.line() and "LGPL-2.1 in seccomparch.h" in r.line()
    # the template's tag names all three: the check passes on the real tree
    ours = check("slirp4netns", "GPL-2.0-only AND LGPL-2.1-or-later AND MIT", tree)
    assert ours.verified, ours.line()


def test_license_ref_is_valid_spdx() -> None:
    """SPDX's LicenseRef-<idstring> (k3s-root's LicenseRef-Public-Domain) is a valid key; an
    unknown plain key or a malformed reference is not."""
    assert _tag_keys("LicenseRef-Public-Domain OR CC0-1.0") == (
        {"LicenseRef-Public-Domain", "CC0-1.0"},
        "",
    )
    assert _tag_keys("NotALicense AND MIT")[1].startswith("Unknown license key(s): NotALicense")
    assert _tag_keys("LicenseRef-a_b")[1]
