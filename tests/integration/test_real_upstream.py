"""Checks against the REAL upstream repositories, where a clone is at hand (the development
machine had them; CI has no upstream access and skips these): GitHub tag archives are
`git archive | gzip -n`, byte for byte what public records (EMT's and buildroot's) pin."""

from __future__ import annotations

from pathlib import Path

import pytest

from emtk3s.infra.git import fetch_tag
from emtk3s.stages.resolve import known_hashes

MIRROR = Path("/work/.mirror")
CASES = [
    (
        "containers+fuse-overlayfs",
        "v1.14",
        "fuse-overlayfs-1.14",
        "https://github.com/containers/fuse-overlayfs/archive/v1.14.tar.gz",
    ),
    (
        "rootless-containers+slirp4netns",
        "v1.3.1",
        "slirp4netns-1.3.1",
        "https://github.com/rootless-containers/slirp4netns/archive/v1.3.1.tar.gz",
    ),
]
BUILDROOT_RECORDS = [  # buildroot 2024.02.7's package/*/*.hash entries for GitHub archives
    (
        "containers+fuse-overlayfs",
        "v1.11",
        "fuse-overlayfs-1.11",
        "320a411425414679736dcb7f3b05146430ca4af20ded0096c69ac3c7540ebca2",
    ),
    (
        "rootless-containers+slirp4netns",
        "v1.2.0",
        "slirp4netns-1.2.0",
        "b584edde686d3cfbac210cbdb93c4b0ba5d8cc0a6a4d92b9dfc3c5baec99c727",
    ),
]


@pytest.mark.parametrize("repo, tag, prefix, url", CASES)
def test_git_archive_equals_emts_public_record(
    tmp_path: Path, repo: str, tag: str, prefix: str, url: str
) -> None:
    import hashlib

    clone = MIRROR / repo / "repo"
    if not clone.is_dir():
        pytest.skip(f"no clone of {repo} here (offline CI)")
    co = fetch_tag(tmp_path, "file://" + str(clone), tag)
    assert hashlib.sha256(co.github_archive(prefix)).hexdigest() == known_hashes()[url]


@pytest.mark.parametrize("repo, tag, prefix, sha", BUILDROOT_RECORDS)
def test_git_archive_equals_buildroots_record(
    tmp_path: Path, repo: str, tag: str, prefix: str, sha: str
) -> None:
    import hashlib

    clone = MIRROR / repo / "repo"
    if not clone.is_dir():
        pytest.skip(f"no clone of {repo} here (offline CI)")
    co = fetch_tag(tmp_path, "file://" + str(clone), tag)
    assert hashlib.sha256(co.github_archive(prefix)).hexdigest() == sha
