"""emt os-profiles: the lock's K3s version into infra-core's OS profiles, on a small fixture
(our own text, shaped as infra-core's os-profiles/*.yaml at open-edge-platform/infra-core's
snapshot: a `metadata:` mapping with `release:` and `kubernetes-version:` for the microvisor
profiles whose image carries K3s, none for the others) and on a clone of the real infra-core
snapshot where it is present."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA_CORE = Path("/work/.mirror/open-edge-platform+infra-core/repo")
K3S = json.loads((REPO / "emtk3s.lock").read_text())["k3s"]

WITH_K3S = """---
# SPDX-FileCopyrightText: (C) 2024 Fixture
# SPDX-License-Identifier: Apache-2.0

appVersion: apps/v1
metadata:
  release: 0.0.0-dev
  kubernetes-version: v1.31.2+k3s1   # set by the release
spec:
  name: Fixture microvisor
  type: OS_TYPE_IMMUTABLE
  profileName: fixture-nonrt  # Name has to be identical to this file name
"""
WITHOUT = """---
appVersion: apps/v1
metadata:
  release: 0.0.0-dev
spec:
  name: Fixture standalone
  profileName: fixture-standalone
"""


def _emtk3s(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emtk3s", "-C", str(REPO), *args], capture_output=True, text=True
    )


def _fixture(root: Path) -> Path:
    (root / "os-profiles").mkdir(parents=True)
    (root / "os-profiles/fixture-nonrt.yaml").write_text(WITH_K3S)
    (root / "os-profiles/fixture-standalone.yaml").write_text(WITHOUT)
    return root


def test_fixture_profiles(tmp_path: Path) -> None:
    infra = _fixture(tmp_path / "infra-core")
    dry = _emtk3s("--json", "emt", "os-profiles", "--infra-core", str(infra), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    res = json.loads(dry.stdout)["result"]
    dec = {d["profile"]: d for d in res["decisions"]}
    assert dec["fixture-nonrt.yaml"]["action"] == "update"
    assert dec["fixture-standalone.yaml"]["action"] == "skipped"
    assert f"+  kubernetes-version: {K3S}   # set by the release" in res["diff"]
    assert (infra / "os-profiles/fixture-nonrt.yaml").read_text() == WITH_K3S
    real = _emtk3s("emt", "os-profiles", "--infra-core", str(infra))
    assert real.returncode == 0, real.stderr
    # one line changed, its comment and every other byte kept
    assert (infra / "os-profiles/fixture-nonrt.yaml").read_text() == WITH_K3S.replace(
        "v1.31.2+k3s1", K3S
    )
    assert (infra / "os-profiles/fixture-standalone.yaml").read_text() == WITHOUT
    assert not (infra / ".emtk3s-integrate").exists()
    again = _emtk3s("emt", "os-profiles", "--infra-core", str(infra))
    assert again.returncode == 0 and "up to date" in again.stdout
    # --profile adds the field where the profile had none
    add = _emtk3s(
        "emt", "os-profiles", "--infra-core", str(infra), "--profile", "fixture-standalone"
    )
    assert add.returncode == 0, add.stderr
    data = yaml.safe_load((infra / "os-profiles/fixture-standalone.yaml").read_text())
    assert data["metadata"] == {"kubernetes-version": K3S, "release": "0.0.0-dev"}
    bad = _emtk3s("emt", "os-profiles", "--infra-core", str(infra), "--profile", "nope")
    assert bad.returncode == 2 and "--profile nope" in bad.stderr


def test_a_newer_or_hand_edited_version_is_refused(tmp_path: Path) -> None:
    infra = _fixture(tmp_path / "infra-core")
    f = infra / "os-profiles/fixture-nonrt.yaml"
    f.write_text(WITH_K3S.replace("v1.31.2+k3s1", "v1.99.0+k3s1"))
    before = f.read_text()
    res = _emtk3s("emt", "os-profiles", "--infra-core", str(infra))
    assert res.returncode == 9 and "downgrade of v1.99.0+k3s1" in res.stderr
    assert f.read_text() == before
    ok = _emtk3s("emt", "os-profiles", "--infra-core", str(infra), "--allow-downgrade")
    assert ok.returncode == 0 and K3S in f.read_text()
    f.write_text(WITH_K3S.replace("v1.31.2+k3s1", "latest"))
    res = _emtk3s("emt", "os-profiles", "--infra-core", str(infra))
    assert res.returncode == 9 and "'latest' is not a K3s tag" in res.stderr
    not_infra = _emtk3s("emt", "os-profiles", "--infra-core", str(tmp_path))
    assert not_infra.returncode == 2 and "not an infra-core checkout" in not_infra.stderr


def test_real_infra_core_snapshot(tmp_path: Path) -> None:
    """infra-core's microvisor-nonrt and microvisor-rt carry the field: exactly those lines
    change; the other profiles are skipped with the reason."""
    if not (INFRA_CORE / "HEAD").is_file():
        pytest.skip(f"no infra-core snapshot at {INFRA_CORE} (the fetch tool brings it)")
    clone = tmp_path / "infra-core"
    subprocess.run(["git", "clone", "-q", str(INFRA_CORE), str(clone)], check=True)
    # the snapshot's profiles at an older K3s, so that the release's version is new to them
    for f in (clone / "os-profiles").glob("*.yaml"):
        text = f.read_text()
        f.write_text(text.replace(f"kubernetes-version: {K3S}", "kubernetes-version: v1.31.2+k3s1"))
    subprocess.run(
        ["git", "-C", str(clone), "commit", "-qam", "older K3s"],
        check=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
            "PATH": "/usr/bin:/bin",
        },
    )
    res = _emtk3s("--json", "emt", "os-profiles", "--infra-core", str(clone))
    assert res.returncode == 0, res.stderr
    dec = {d["profile"]: d["action"] for d in json.loads(res.stdout)["result"]["decisions"]}
    assert dec["microvisor-nonrt.yaml"] == "update" and dec["microvisor-rt.yaml"] == "update"
    assert dec["ubuntu-24.04-lts.yaml"] == "skipped"
    diff = subprocess.run(
        ["git", "-C", str(clone), "diff", "-U0"], capture_output=True, text=True, check=True
    ).stdout
    changed = [ln for ln in diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]
    assert (
        changed
        == [
            "-  kubernetes-version: v1.31.2+k3s1",
            f"+  kubernetes-version: {K3S}",
        ]
        * 2
    ), diff
    again = _emtk3s("emt", "os-profiles", "--infra-core", str(clone))
    assert again.returncode == 0 and "up to date" in again.stdout
