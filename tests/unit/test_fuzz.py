"""Fuzzing (hypothesis): parsers never crash — they return a value or raise InputError. That every
spec rendered from accepted values parses with `rpmspec -P`: tests/integration/test_fuzz_rpmspec.py."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from emtk3s.infra import checks
from emtk3s.infra.errors import InputError
from emtk3s.model.versions import K3sTag, component_version
from emtk3s.packages.k3s.upstream import parse_version_sh
from emtk3s.stages import render

tag_chars = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
tagish = st.from_regex(
    r"v?[0-9]{1,3}(\.[0-9]{1,3}){0,3}(-rc[0-9]{1,2})?(\+k3s[0-9]{1,2})?", fullmatch=True
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(tag_chars, tagish))
def test_k3s_tag_parser_total(text: str) -> None:
    try:
        t = K3sTag.parse(text)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert t.tag == text
    checks.free_text(t.rpm_version, "version")  # a parsed tag is always spec-safe


@settings(max_examples=300, deadline=None)
@given(st.one_of(tag_chars, tagish))
def test_component_version_total(text: str) -> None:
    try:
        checks.tag(text)
        v = component_version(text)
    except InputError:
        return
    render.check_values(v)


line = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda n, q, v: f"VERSION_{n}={q}{v}{q}",
        st.from_regex(r"[A-Z][A-Z0-9_]{0,10}", fullmatch=True),
        st.sampled_from(["", '"', "'"]),
        st.text(max_size=20),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(line, max_size=12))
def test_version_sh_parser_total(lines: list[str]) -> None:
    try:
        facts = parse_version_sh("\n".join(lines))
    except InputError as exc:
        assert "scripts/version.sh:" in str(exc)
        return
    for v in facts.values():
        checks.tag(v)
