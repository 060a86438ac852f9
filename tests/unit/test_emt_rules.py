"""EMT's pull-request rules (emtk3s.emt.rules) on the golden specs and on broken variants, and the
JSON text editor integrate uses (emtk3s.emt.jsontext)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emtk3s.emt import jsontext, rules

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
SPECS = sorted(GOLDEN.glob("*.spec"))


def _spec(name: str) -> str:
    return (GOLDEN / f"{name}.spec").read_text()


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_golden_specs_have_the_linter_layout(spec: Path) -> None:
    found = rules.check_spec(spec.read_text())
    assert found == []


def test_each_layout_rule_fires() -> None:
    text = _spec("k3s-iptables-helpers")
    cases = {
        "BuildArch:": text.replace("BuildArch:      noarch\n", "").replace(
            "Requires:       coreutils\n", "BuildArch:      noarch\nRequires:       coreutils\n"
        ),
        "not sorted": text.replace("Requires:       coreutils\n", "").replace(
            "Requires:       which\n", "Requires:       which\nRequires:       coreutils\n"
        ),
        "literal '/usr'": text.replace("%{_usr}/lib/tmpfiles.d", "/usr/lib/tmpfiles.d"),
        "a blank line inside the main preamble": text.replace("Source0:", "\nSource0:", 1),
    }
    for what, bad in cases.items():
        found = rules.check_spec(bad)
        assert any(what in f and f.startswith("rule emt-linter-layout") for f in found), (
            what,
            found,
        )


def test_subpackage_order_and_section_spacing_rules() -> None:
    text = _spec("k3s")
    bad = text.replace("Conflicts:      containerd\n", "").replace(
        "Conflicts:      moby-containerd-cc\n",
        "Conflicts:      moby-containerd-cc\nConflicts:      containerd\n",
    )
    assert any("Conflicts not sorted" in f for f in rules.check_spec(bad))
    bad = text.replace("aarch64\n\n%description", "aarch64\n%description", 1)
    assert any("no blank line before %description" in f for f in rules.check_spec(bad))


def test_changelog_and_attribution_rules() -> None:
    text = _spec("slirp4netns")
    assert "#nospeccleaner" not in text and not rules.check_spec(text)
    assert any(
        f.startswith("rule emt-linter-changelog") and "#nospeccleaner" in f
        for f in rules.check_spec(text.replace("\nSummary:", "\n#nospeccleaner\nSummary:", 1))
    )
    wrapped = text.replace("- Built from", "  a wrapped line\n- Built from")
    assert any("does not start with '- '" in f for f in rules.check_spec(wrapped))
    two = text + "\n* Sun May 01 2022 A <a@b.c> - 1.1.0-1\n- Older.\n"
    assert not rules.check_spec(two)
    assert not [f for f in rules.check_spec(text) if "emt-attribution" in f]
    bad = text.replace("Toolkit.\n", "Toolkit, from rootless-containers/slirp4netns v1.2.0.\n")
    assert any(f.startswith("rule emt-attribution") for f in rules.check_spec(bad))


def test_source_basenames_unique_and_versioned() -> None:
    assert rules.check_source_names([("a", "a-1.tar.gz"), ("b", "b-2.tar.gz")]) == []
    found = rules.check_source_names([("a", "LICENSE"), ("a", "x-1"), ("b", "x-1")])
    assert any("Source LICENSE carries no version" in f for f in found)
    assert any("x-1 is a Source of a and b" in f for f in found)


def test_jsontext_edits_keep_the_file_as_written() -> None:
    text = '{\n\t"A" : [\n\t\t"x"\n\t],\n\t"B": {"k": 1},\n\t"C": []\n}\n'
    node = jsontext.parse(text)
    out = jsontext.insert(text, node.children[0], 1, "y")
    assert out == '{\n\t"A" : [\n\t\t"x",\n\t\t"y"\n\t],\n\t"B": {"k": 1},\n\t"C": []\n}\n'
    node = jsontext.parse(out)
    out2 = jsontext.insert(out, node.children[2], 0, {"n": 1})
    assert json.loads(out2)["C"] == [{"n": 1}] and out2.startswith(out[: out.index('"C"')])
    node = jsontext.parse(out2)
    out3 = jsontext.remove(out2, node.children[0], 0)
    assert json.loads(out3)["A"] == ["y"]
    out4 = jsontext.set_key(out3, jsontext.parse(out3), "D", True)
    assert json.loads(out4)["D"] is True and '"A" : [' in out4
    with pytest.raises(ValueError):
        jsontext.parse('{"a": }')
