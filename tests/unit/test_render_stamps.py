"""render owns its stamps: input keys are computed once per run (what every package shares is
hashed once: O(P)), an unchanged package is not rendered again, and a changed
template or a hand-edited SPECS/ directory is."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emtk3s import catalog
from emtk3s.infra.paths import Project
from emtk3s.model import release as release_toml
from emtk3s.model.lock import Lock
from emtk3s.stages import render

CATALOG = catalog.load()

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def _setup(tmp_path: Path) -> tuple[release_toml.Release, Lock, Project]:
    release = release_toml.load(GOLDEN / "release.toml", CATALOG, environ={})
    lock = Lock.from_json((GOLDEN / "lock.json").read_text(), CATALOG.mirrors)
    return release, lock, Project.at(tmp_path / "proj", tmp_path / "cache")


def test_shared_inputs_are_hashed_once_per_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release, lock, project = _setup(tmp_path)
    calls = []
    real = Lock.canonical
    monkeypatch.setattr(Lock, "canonical", lambda self: calls.append(1) or real(self))
    res = render.render(release, lock, project)
    assert sorted(res.written) == sorted(CATALOG.packages)
    assert len(calls) == 1  # not once per package


def test_unchanged_inputs_skip_and_changes_rerender(tmp_path: Path) -> None:
    release, lock, project = _setup(tmp_path)
    render.render(release, lock, project)
    assert render.render(release, lock, project).written == []
    # a hand edit of SPECS/ is put right
    spec = project.specs / "slirp4netns" / "slirp4netns.spec"
    good = spec.read_bytes()
    spec.write_bytes(good + b"# edited\n")
    assert render.render(release, lock, project).written == ["slirp4netns"]
    assert spec.read_bytes() == good
    # a project's own template for one package re-renders that package only
    own = tmp_path / "proj" / "templates" / "slirp4netns"
    shutil.copytree(CATALOG.packages["slirp4netns"].template_dir(), own)
    (own / "slirp4netns.spec.j2").write_text(
        (own / "slirp4netns.spec.j2").read_text().replace("%build", "%build\n# ours")
    )
    project = Project.at(tmp_path / "proj", tmp_path / "cache")
    assert render.render(release, lock, project).written == ["slirp4netns"]
    assert b"# ours" in spec.read_bytes()
