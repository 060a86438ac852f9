"""Fuzzing (hypothesis): every spec rendered from accepted values parses with `rpmspec -P`."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emtk3s import catalog
from emtk3s.infra import checks
from emtk3s.infra.errors import InputError
from emtk3s.model import release as release_toml
from emtk3s.model.lock import Lock
from emtk3s.model.versions import component_version
from emtk3s.stages import render

ROOT = Path(__file__).resolve().parents[2]
MACROS = ROOT / "emtk3s" / "data" / "emt.macros"
CATALOG = catalog.load()
tagish = st.from_regex(
    r"v?[0-9]{1,3}(\.[0-9]{1,3}){0,3}(-rc[0-9]{1,2})?(\+k3s[0-9]{1,2})?", fullmatch=True
)

BASE_LOCK = Lock.from_json((ROOT / "emtk3s.lock").read_text(), CATALOG.mirrors)
RELEASE = release_toml.load(ROOT / "release.toml", CATALOG, environ={})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    root_tag=tagish.filter(lambda t: t[0].isdigit() or t.startswith("v")),
    release_no=st.integers(1, 9999),
    author=st.text(
        alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=30
    ),
)
def test_rendered_spec_from_accepted_values_parses(
    tmp_path_factory: object, root_tag: str, release_no: int, author: str
) -> None:
    lock = BASE_LOCK  # an immutable value: changed copies are made with replace()
    root = dataclasses.replace(lock.components["k3s-root"], tag=root_tag)
    lock = dataclasses.replace(lock, components={**lock.components, "k3s-root": root})
    try:
        checks.tag(root_tag)
        helpers = dataclasses.replace(
            lock.packages["k3s-iptables-helpers"], version=component_version(root_tag)
        )
        lock = dataclasses.replace(lock, packages={**lock.packages, helpers.name: helpers})
        rel = release_toml.parse(
            {
                "release": {"k3s": "v1.32.4+k3s1", "release": release_no},
                "changelog": {"author": author, "email": "a@b.c"},
            },
            CATALOG,
            environ={},
        )
        out = render.render_package(rel, lock, CATALOG.packages["k3s-iptables-helpers"], None)
    except InputError:
        return
    spec = Path(str(tmp_path_factory.mktemp("fuzz"))) / "x.spec"  # type: ignore[attr-defined]
    spec.write_bytes(out.files["k3s-iptables-helpers.spec"])
    proc = subprocess.run(
        ["rpmspec", "-P", "--load", str(MACROS), str(spec)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert f"Release:        {release_no}.emt3" in proc.stdout
