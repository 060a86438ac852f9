"""EMT's own spec-guideline rules on our rendered specs: the source
attribution and license-verification patterns are read from the EMT snapshot when present
(nothing of it is committed here), and applied to every committed and golden spec."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
EMT = Path("/work/.mirror/open-edge-platform+edge-microvisor-toolkit/repo")


def _emt_file(path: str) -> str:
    if not EMT.is_dir():
        pytest.skip(f"no EMT snapshot here ({EMT})")
    return subprocess.run(
        ["git", f"--git-dir={EMT}", "show", f"HEAD:{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _assigned(source: str, name: str) -> object:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found")


def _changelogs() -> dict[str, str]:
    specs = sorted(REPO.glob("SPECS/*/*.spec")) + sorted(REPO.glob("tests/golden/*.spec"))
    assert specs
    out = {}
    for spec in specs:
        text = spec.read_text()
        out[str(spec.relative_to(REPO))] = text[text.index("%changelog") + len("%changelog") :]
    return out


def test_every_spec_has_emts_intel_source_attribution() -> None:
    rules = _assigned(
        _emt_file("toolkit/scripts/spec_source_attributions.py"), "VALID_SOURCE_ATTRIBUTIONS"
    )
    assert isinstance(rules, dict)
    intel = re.compile(rules["Intel"])
    for name, changelog in _changelogs().items():
        assert intel.findall(changelog), f"{name}: no attribution EMT's checker accepts"


def test_license_verified_is_claimed_nowhere_unchecked() -> None:
    """The default specs carry no "License verified." until `emtk3s license-check` passed on
    their sources (recorded in changelog.json)."""
    import json

    history = json.loads((REPO / "changelog.json").read_text())
    checked = {p for p, entries in history.items() if "License verified." in entries[0]["lines"]}
    for name, changelog in _changelogs().items():
        pkg = Path(name).stem.replace("-airgap", "")
        if "License verified" in changelog:
            assert name.startswith("SPECS/") and pkg in checked, name
