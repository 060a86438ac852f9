"""Tag <-> EVR mapping: round trip and the tag grammar; evr_compare on known orders. That the
tag order is preserved under rpm.labelCompare, and that evr_compare agrees with it, needs the
rpm bindings: tests/integration/test_versions_rpm.py."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emtk3s.infra.errors import InputError
from emtk3s.model.versions import K3sTag, component_version, evr_compare

num = st.integers(min_value=0, max_value=40)
tags = st.builds(
    K3sTag,
    major=st.integers(0, 3),
    minor=num,
    patch=num,
    rc=st.one_of(st.none(), st.integers(1, 12)),
    k3s=st.integers(1, 12),
)


@given(tags)
def test_round_trip(t: K3sTag) -> None:
    assert K3sTag.parse(t.tag) == t
    assert K3sTag.from_rpm_version(t.rpm_version) == t


def test_mapping_examples() -> None:
    assert K3sTag.parse("v1.32.6+k3s1").rpm_version == "1.32.6+k3s1"
    assert K3sTag.parse("v1.33.0-rc1+k3s1").rpm_version == "1.33.0~rc1+k3s1"
    assert K3sTag.parse("v1.32.4+k3s1").kubernetes == "v1.32.4"


@pytest.mark.parametrize(
    "bad",
    [
        "1.32.4+k3s1",
        "v1.32.4",
        "v1.32.4+k3s0",
        "v1.32.4+k3s1\n%post",
        "v1.32.4+k3s1 ",
        "v01.2.3+k3s1",
        "v1.32.4-rc0+k3s1",
        "v1.32.4%{?dist}+k3s1",
        "",
        "v1.32.4+k3s1;rm",
    ],
)
def test_bad_tags_refused(bad: str) -> None:
    with pytest.raises(InputError) as exc:
        K3sTag.parse(bad)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize(
    "tag, version",
    [
        ("v0.14.1", "0.14.1"),
        ("v1.6.0-k3s1", "1.6.0.k3s1"),
        ("v0.5.0-rc1", "0.5.0~rc1"),
        ("2024.02.7", "2024.02.7"),
    ],
)
def test_component_version(tag: str, version: str) -> None:
    assert component_version(tag) == version


# rpm's own order (rpmvercmp), written down: each pair is (older, newer)
ORDER = [
    ("1.0", "1.0.1"),
    ("1.0~rc1", "1.0"),
    ("1.0", "1.0^git1"),
    ("1.0^git1", "1.0.1"),
    ("1.9", "1.10"),
    ("1.0a", "1.0.1"),
    ("a", "1"),
    ("1.32.9+k3s1", "1.32.10+k3s1"),
    ("1.33.0~rc1+k3s1", "1.33.0+k3s1"),
    ("1.32.4+k3s1", "1.32.4+k3s2"),
    ("ABC", "abc"),
]


@pytest.mark.parametrize(("old", "new"), ORDER)
def test_evr_compare_is_rpms_order(old: str, new: str) -> None:
    assert evr_compare(old, new) == -1 and evr_compare(new, old) == 1
    assert evr_compare(old, old) == 0
    assert evr_compare("1.00", "1.0") == 0 and evr_compare("1_0", "1.0") == 0
