"""Golden specs: every package rendered from a fixed fixture lock, compared byte for byte with
``tests/golden/<pkg>.spec`` and ``<pkg>.signatures.json``, so a template change is a readable
diff in review. ``k3s-airgap.*`` is k3s with ``airgap_images = true``.

The fixture (``tests/golden/lock.json`` + ``release.toml``) is ours: real tags and versions,
fake commits and sha256s. After a deliberate template change, regenerate and review the diff:

    EMTK3S_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/unit/test_golden.py
    git diff tests/golden/
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import os
from pathlib import Path

import pytest

from emtk3s import catalog
from emtk3s.model import release as release_toml
from emtk3s.model.lock import Lock, Source
from emtk3s.stages.render import render_package

CATALOG = catalog.load()

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
UPDATE = os.environ.get("EMTK3S_UPDATE_GOLDEN") == "1"


def _airgap_lock(lock: Lock) -> Lock:
    """The fixture lock as resolve makes it for airgap_images = true: two more k3s sources."""
    k3s = lock.packages["k3s"]
    extra = [
        Source(
            f"k3s-airgap-images-{a}.tar.zst",
            "github",
            f"/k3s-io/k3s/releases/download/{lock.k3s}/k3s-airgap-images-{a}.tar.zst",
            hashlib.sha256(f"emtk3s golden fixture airgap {a}".encode()).hexdigest(),
            None,
            "fetch",
        )
        for a in ("amd64", "arm64")
    ]
    packages = dict(lock.packages)
    packages["k3s"] = dataclasses.replace(k3s, sources=[*k3s.sources, *extra])
    return dataclasses.replace(lock, packages=packages)


def _cases() -> list[tuple[str, str, bool]]:
    return [(n, n, False) for n in sorted(CATALOG.packages)] + [("k3s-airgap", "k3s", True)]


def test_every_package_has_a_golden_case() -> None:
    assert {c[1] for c in _cases()} == set(CATALOG.packages)


@pytest.mark.parametrize(("golden", "package", "airgap"), _cases())
def test_render_matches_golden(golden: str, package: str, airgap: bool) -> None:
    release = release_toml.load(GOLDEN / "release.toml", CATALOG, environ={})
    lock = Lock.from_json(
        (GOLDEN / "lock.json").read_text(), CATALOG.mirrors, "tests/golden/lock.json"
    )
    if airgap:
        release = dataclasses.replace(release, airgap_images=True)
        lock = _airgap_lock(lock)
    out = render_package(release, lock, CATALOG.packages[package], None)
    for suffix in (".spec", ".signatures.json"):
        want_path = GOLDEN / f"{golden}{suffix}"
        got = out.files[f"{package}{suffix}"]
        if UPDATE:
            want_path.write_bytes(got)
            continue
        assert want_path.is_file(), f"{want_path} missing: run with EMTK3S_UPDATE_GOLDEN=1"
        want = want_path.read_bytes()
        if got != want:
            diff = "".join(
                difflib.unified_diff(
                    want.decode().splitlines(keepends=True),
                    got.decode().splitlines(keepends=True),
                    f"tests/golden/{golden}{suffix} (golden)",
                    f"{golden}{suffix} (rendered)",
                )
            )
            pytest.fail(
                f"rendered {golden}{suffix} differs from the golden file "
                f"(regenerate with EMTK3S_UPDATE_GOLDEN=1 after review):\n{diff}"
            )


def test_the_prebuilt_airgap_opt_in_is_said_not_built_from_source(tmp_path: Path) -> None:
    """airgap_images = true renders k3s with upstream's prebuilt archives: render says on
    stderr and in its JSON that they are not built from source (not OSPDT-clean), and the spec
    says it above their Source lines; without the opt-in nothing is said."""
    import json
    import subprocess
    import sys

    lock = Lock.from_json(
        (GOLDEN / "lock.json").read_text(), CATALOG.mirrors, "tests/golden/lock.json"
    )
    for airgap in (True, False):
        proj = tmp_path / f"airgap-{airgap}"
        proj.mkdir()
        text = (GOLDEN / "release.toml").read_text()
        (proj / "release.toml").write_text(
            text.replace("airgap_images = false", f"airgap_images = {str(airgap).lower()}")
        )
        (proj / "emtk3s.lock").write_text((_airgap_lock(lock) if airgap else lock).to_json())

        def render(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "emtk3s", "-C", str(proj), *args, "render", "-p", "k3s"],  # noqa: B023
                capture_output=True,
                text=True,
                env={**os.environ, "EMTK3S_CACHE": str(tmp_path / "cache")},
            )

        res = render("--json")
        assert res.returncode == 0, res.stderr
        prebuilt = json.loads(res.stdout)["result"]["prebuilt"]
        res = render()  # the human output, on stderr
        assert res.returncode == 0, res.stderr
        spec = (proj / "SPECS/k3s/k3s.spec").read_text()
        if airgap:
            assert prebuilt == {"k3s": [f"k3s-airgap-images-{a}.tar.zst" for a in ("amd64", "arm64")]}  # fmt: skip
            assert "NOT BUILT FROM SOURCE: k3s/k3s-airgap-images-amd64.tar.zst" in res.stderr
            assert "not OSPDT-clean" in res.stderr
            assert "# NOT BUILT FROM SOURCE (release.toml airgap_images = true)" in spec
        else:
            assert prebuilt == {} and "NOT BUILT FROM SOURCE" not in res.stderr + spec
