"""bump changes release.toml's [release] k3s value with tomlkit: every other byte (comments,
spacing, key order, the value's own inline comment, a `k3s` key of another table) stays."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emtk3s.infra.errors import InputError
from emtk3s.model.versions import K3sTag
from emtk3s.workflows.bump import set_k3s_tag

RELEASE = """# What emtk3s builds.
[mirrors]
github   = "https://github.com"  # upstream base

[overrides]
# a line-oriented edit would hit this `k3s = ` first
k3s = "v9.9.9+k3s1"

[release]
arches = ["x86_64",   "aarch64"]   # both
k3s   =   "v1.32.4+k3s1"   # what EMT ships
release = 1
"""


def test_only_the_release_value_changes(tmp_path: Path) -> None:
    f = tmp_path / "release.toml"
    f.write_text(RELEASE)
    old = set_k3s_tag(f, K3sTag.parse("v1.32.5+k3s1"))
    assert old == "v1.32.4+k3s1"
    assert f.read_text() == RELEASE.replace('k3s   =   "v1.32.4+k3s1"', 'k3s   =   "v1.32.5+k3s1"')


@pytest.mark.parametrize(
    "text, message",
    [
        ("[release]\nk3s = \n", "not valid TOML"),
        ('[release]\narches = ["x86_64"]\n', 'no k3s = "..." under [release]'),
        ('k3s = "v1.32.4+k3s1"\n', 'no k3s = "..." under [release]'),
    ],
)
def test_bad_release_toml_is_named(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "release.toml"
    f.write_text(text)
    with pytest.raises(InputError, match=re.escape(message)):
        set_k3s_tag(f, K3sTag.parse("v1.32.5+k3s1"))
    assert f.read_text() == text
