"""A hand-edited or hostile lock cannot carry a value into a spec, a URL or a command line
(issue #13.6): every field is checked on load with the patterns release.toml's values meet, and
render's last check lets no space or ';' through where a token belongs."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from emtk3s.infra.errors import InputError
from emtk3s.model.lock import Lock
from emtk3s.stages import render

DEFAULT = json.loads((Path(__file__).resolve().parents[2] / "emtk3s.lock").read_text())


def _src(d: dict[str, Any], pkg: str, name_part: str) -> dict[str, Any]:
    src: dict[str, Any] = next(s for s in d["packages"][pkg]["sources"] if name_part in s["name"])
    return src


EDITS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "buildroot version with a command",
        lambda d: d["components"]["k3s-root"]["facts"].update(
            buildroot_version="2024.02.7; rm -rf /"
        ),
        "k3s-root.facts.buildroot_version",
    ),
    (
        "module version with a space",
        lambda d: d["components"]["k3s"]["facts"]["modules"]["runc"].update(version="v1 x"),
        "k3s.facts.modules.runc.version",
    ),
    (
        "fact climbing out of a URL path",
        lambda d: d["components"]["k3s"]["facts"].update(VERSION_CNIPLUGINS="../../evil"),
        "VERSION_CNIPLUGINS",
    ),
    (
        "fact key with a space",
        lambda d: d["components"]["k3s"]["facts"].update({"a b": "1"}),
        "key",
    ),
    (
        "path gluing a host onto the mirror",
        lambda d: _src(d, "k3s-root", "buildroot").update(path="@evil.example/x.tar.gz"),
        "evil.example",
    ),
    (
        "path without a leading slash",
        lambda d: _src(d, "k3s-root", "buildroot").update(path=".evil.example/x.tar.gz"),
        "path",
    ),
    (
        "protocol-relative path",
        lambda d: _src(d, "k3s-root", "buildroot").update(path="//evil.example/x.tar.gz"),
        "path",
    ),
    (
        "path with a query",
        lambda d: _src(d, "k3s-root", "buildroot").update(path="/x.tar.gz?u=1"),
        "path",
    ),
    ("version with a space", lambda d: d["packages"]["k3s"].update(version="1.0 x"), "version"),
    ("version with a dash", lambda d: d["packages"]["k3s"].update(version="1.0-2"), "version"),
    (
        "repo with ..",
        lambda d: d["components"]["k3s"].update(repo="k3s-io/../evil"),
        "k3s.repo",
    ),
    ("size as text", lambda d: _src(d, "k3s", "vendor").update(size="12"), "size"),
    ("origin with a space", lambda d: _src(d, "k3s", "vendor").update(origin="a b"), "origin"),
    (
        "component missing",
        lambda d: d["packages"]["k3s"].update(component="nope"),
        "component",
    ),
    ("digest not a hash", lambda d: d.update(release_digest="x;y"), "release_digest"),
    (
        "note with a macro",
        lambda d: d["components"]["k3s"]["facts"].update(_source="%{lua:x}"),
        "_source",
    ),
]


@pytest.mark.parametrize("what, edit, needle", EDITS, ids=[e[0] for e in EDITS])
def test_hostile_lock_field_is_refused_on_load(
    what: str, edit: Callable[[dict[str, Any]], None], needle: str
) -> None:
    data = copy.deepcopy(DEFAULT)
    edit(data)
    with pytest.raises(InputError) as exc:
        Lock.from_json(json.dumps(data), "emtk3s.lock")
    assert needle in str(exc.value) and "lock" in str(exc.value)


def test_the_default_lock_loads() -> None:
    Lock.from_json(json.dumps(DEFAULT))


@pytest.mark.parametrize("value", ["1.0;id", "1.0 x", "a'b", 'a"b', "a|b", "a<b"])
def test_tokens_in_the_render_context_refuse_spaces_and_semicolons(value: str) -> None:
    with pytest.raises(InputError, match="could inject spec or shell syntax"):
        render.check_values({"component": {"facts": {"buildroot_version": value}}})


def test_prose_keys_keep_spaces() -> None:
    render.check_values(
        {"pkg": {"summary": "A fine summary; with words"}, "changelog": [{"lines": ["Hi there."]}]}
    )
