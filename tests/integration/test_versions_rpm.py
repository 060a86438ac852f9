"""The tag <-> EVR mapping keeps the order: rpm.labelCompare on the EVRs (the rpm bindings) sorts
exactly as the tags do (rc before final, k3s2 after k3s1, 1.32.10 after 1.32.9), and
model.versions.evr_compare (rpm's order without the bindings) agrees with rpm.labelCompare."""

from __future__ import annotations

import pytest
import rpm
from hypothesis import given, settings
from hypothesis import strategies as st

from emtk3s.model.versions import K3sTag, evr_compare

num = st.integers(min_value=0, max_value=40)
tags = st.builds(
    K3sTag,
    major=st.integers(0, 3),
    minor=num,
    patch=num,
    rc=st.one_of(st.none(), st.integers(1, 12)),
    k3s=st.integers(1, 12),
)


def _cmp(a: K3sTag, b: K3sTag) -> int:
    return (a > b) - (a < b)


def _evr(t: K3sTag) -> tuple[str, str, str]:
    return ("0", t.rpm_version, "1")


@settings(max_examples=400)
@given(tags, tags)
def test_rpm_order_equals_tag_order(a: K3sTag, b: K3sTag) -> None:
    assert rpm.labelCompare(_evr(a), _evr(b)) == _cmp(a, b)


@pytest.mark.parametrize(
    "older, newer",
    [
        ("v1.33.0-rc1+k3s1", "v1.33.0+k3s1"),
        ("v1.33.0-rc2+k3s1", "v1.33.0-rc10+k3s1"),
        ("v1.32.6+k3s1", "v1.32.6+k3s2"),
        ("v1.32.9+k3s1", "v1.32.10+k3s1"),
        ("v1.32.10+k3s3", "v1.33.0-rc1+k3s1"),
    ],
)
def test_known_orderings(older: str, newer: str) -> None:
    a, b = K3sTag.parse(older), K3sTag.parse(newer)
    assert a < b
    assert rpm.labelCompare(_evr(a), _evr(b)) == -1


version_text = st.text(alphabet="019.~^ab+_", min_size=1, max_size=8)


@settings(max_examples=2000)
@given(version_text, version_text)
def test_evr_compare_agrees_with_rpm_label_compare(a: str, b: str) -> None:
    assert evr_compare(a, b) == int(rpm.labelCompare(("0", a, "1"), ("0", b, "1")))
