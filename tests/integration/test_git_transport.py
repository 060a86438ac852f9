"""git fetches against the fixture mirror: transient failures are retried with the HTTP
policy; a repository the mirror lacks is an upstream error (exit 4), a missing tag bad input
(exit 2); the re-pin hint of a moved tag is a command that works as printed."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import make_project
from tests.fixtures import k3s_release, k3s_root_tree
from tests.fixtures.upstream import Fault, Upstream

PKG = "k3s-iptables-helpers"
UPLOAD = "/k3s-io/k3s-root.git/git-upload-pack"


def test_connection_reset_and_5xx_during_git_fetch_are_retried(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    p = make_project(tmp_path / "proj", fresh_upstream)
    p.write_release(packages=[PKG])
    fresh_upstream.faults[UPLOAD] = [Fault("reset", times=1), Fault("status", status=502)]
    res = p.run("resolve", check=False)
    assert res.code == 0, res.err
    assert fresh_upstream.requests[UPLOAD] >= 3, "two failed attempts, then the one that worked"
    assert p.lock["components"]["k3s-root"]["tag"] == k3s_release.K3S_ROOT_TAG


def test_git_failures_past_the_retries_are_an_upstream_error(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    p = make_project(tmp_path / "proj", fresh_upstream)
    p.write_release(packages=[PKG])
    fresh_upstream.faults[UPLOAD] = [Fault("status", status=503, times=50)]
    res = p.run("resolve", check=False)
    assert res.code == 4, res.err
    assert "failed after 5 attempts" in res.err
    assert len(res.err.strip().splitlines()) == 1


def test_a_mirror_without_the_repository_is_exit_4_not_a_bad_tag(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    p = make_project(tmp_path / "proj", fresh_upstream)
    p.write_release(packages=[PKG])
    empty = Upstream(tmp_path / "empty").start()  # same URL layout, no repositories at all
    try:
        res = p.run("--mirror", f"github={empty.base}", "resolve", check=False)
    finally:
        empty.stop()
    assert res.code == 4, res.err
    assert "no repository" in res.err and "tag" not in res.err.split("(")[0]
    assert "EMTK3S_MIRROR_GITHUB" in res.err


def test_a_missing_tag_is_still_bad_input(fresh_upstream: Upstream, tmp_path: Path) -> None:
    p = make_project(tmp_path / "proj", fresh_upstream)
    p.write_release(packages=[PKG])
    rel = p.root / "release.toml"
    rel.write_text(rel.read_text() + '[overrides]\nk3s-root = "v9.9.9"\n')
    res = p.run("resolve", check=False)
    assert res.code == 2, res.err
    assert "tag v9.9.9 not found" in res.err


def test_the_moved_tag_hint_is_a_command_that_works(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    p = make_project(tmp_path / "proj", fresh_upstream)
    p.write_release(packages=[PKG])
    p.run("resolve")
    files = k3s_root_tree.k3s_root_files()
    files["iptables-detect/README.md"] = "moved!\n"
    new = fresh_upstream.commit_tag("k3s-io/k3s-root", files, k3s_release.K3S_ROOT_TAG)
    res = p.run("resolve", "--refresh", check=False)
    assert res.code == 3, res.err
    hint = re.search(r"re-pin with emtk3s ([a-z -]+)\)", res.err)
    assert hint, res.err
    p.run(*hint.group(1).split())  # exactly what the hint says, nothing more
    assert p.lock["components"]["k3s-root"]["commit"] == new
