"""The JSON schemas of release.toml and emtk3s.lock (emtk3s/formats/): valid Draft-07 schemas,
the generated validators in step with them, every committed release and lock accepted, each bad
input refused with one line that names the file, the field and the fix (exit 2, no traceback),
and the schemas' names in step with what the code accepts."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from emtk3s import catalog, formats
from emtk3s.infra.errors import InputError
from emtk3s.model import release as release_toml
from emtk3s.model.lock import GENERATED, Lock
from tests.conftest import ProjectDir

REPO = Path(__file__).resolve().parents[2]
CATALOG = catalog.load()
sys.path.insert(0, str(REPO / "tools"))
import make_format_validators  # noqa: E402


@pytest.mark.parametrize("kind", sorted(formats.SCHEMAS))
def test_schema_is_valid_draft7_and_generated_validator_is_current(kind: str) -> None:
    schema = formats.schema(kind)
    jsonschema.Draft7Validator.check_schema(schema)
    path = REPO / "emtk3s" / "formats" / f"_{kind}_validator.py"
    assert path.read_text() == make_format_validators.generated(kind), (
        f"{path.name} drifted from {formats.SCHEMAS[kind]}: "
        "run .venv/bin/python tools/make_format_validators.py"
    )


@pytest.mark.parametrize("path", ["release.toml", "tests/golden/release.toml"])
def test_committed_releases_fit(path: str) -> None:
    raw = tomllib.loads((REPO / path).read_text())
    formats.check("release", raw, path)
    assert not list(jsonschema.Draft7Validator(formats.schema("release")).iter_errors(raw))


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"packages": ["k3s-iptables-helpers"], "release": 2},
        {"k3s_root": "v0.15.2", "arches": ["x86_64"], "airgap_images": True, "selinux": False},
    ],
)
def test_fixture_project_releases_fit(tmp_path: Path, overrides: dict[str, Any]) -> None:
    """What tests/conftest.py writes for the integration tests, with the overrides they pass."""
    p = ProjectDir(tmp_path, tmp_path / "cache", None)  # type: ignore[arg-type]
    p.write_release(**overrides)
    rel = release_toml.load(tmp_path / "release.toml", CATALOG, environ={})
    assert rel.k3s.tag == overrides.get("k3s", "v1.32.4+k3s1")


@pytest.mark.parametrize("path", ["emtk3s.lock", "tests/golden/lock.json"])
def test_committed_locks_fit(path: str) -> None:
    data = json.loads((REPO / path).read_text())
    formats.check("lock", data, path)
    assert not list(jsonschema.Draft7Validator(formats.schema("lock")).iter_errors(data))


BAD_RELEASES = [
    ('[release]\nk3s = "v1.32"\n', "release.k3s = 'v1.32' is not a K3s tag, e.g. \"v1.32.4+k3s1\""),
    ('[release]\narches = ["x86_64"]\n', "release.k3s is missing"),
    ('[release]\nk3s = "v1.32.4+k3s1"\narches = ["ppc64le"]\n', "release.arches[0] = 'ppc64le'"),
    ('[release]\nk3s = "v1.32.4+k3s1"\nselinux = "yes"\n', "release.selinux = 'yes' is not true"),
    ('[release]\nk3s = "v1.32.4+k3s1"\nrelease = 0\n', "release.release = 0 is not a whole"),
    ("[release]\nk3s = 1\n", "release.k3s = 1 is not a K3s tag"),
    ('[release]\nk3s = "v1.32.4+k3s1"\nRelease = 2\n', "release.Release = 2 is not a tag pinning"),
    ('[release]\nk3s = "v1.32.4+k3s1"\n[mirrors]\ngithub = "ftp://m.example"\n', "mirrors.github"),
    ('[release]\nk3s = "v1.32.4+k3s1"\n[mirrors]\nallow_http = ["GH!"]\n', "allow_http[0]"),
    ('[release]\nk3s = "v1.32.4+k3s1"\n[overrides]\n"a b" = "v1"\n', "overrides: key 'a b'"),
    ('[release]\nk3s = "v1.32.4+k3s1"\n[overrides]\nfuse-overlayfs = 1\n', "overrides.fuse"),
    ('[release]\nk3s = "v1.32.4+k3s1"\n[changelog]\nemail = "a <b@c>"\n', "changelog.email"),
    ('[release]\nk3s = "v1.32.4+k3s1"\n[changelog]\nauthor = ""\n', "changelog.author"),
    ('[release]\nk3s = "v1.32.4+k3s1"\n[extra]\n', "unknown key extra"),
]


@pytest.mark.parametrize("text, needle", BAD_RELEASES)
def test_bad_release_files_are_refused_naming_field_and_fix(
    tmp_path: Path, text: str, needle: str
) -> None:
    f = tmp_path / "release.toml"
    f.write_text(text)
    with pytest.raises(InputError) as exc:
        release_toml.load(f, CATALOG, environ={})
    line = str(exc.value)
    assert needle in line and line.startswith(f"{f}: ") and "\n" not in line, line
    assert "docs/formats.md" in exc.value.hint and exc.value.exit_code == 2
    # the reference implementation agrees that the file does not fit
    assert list(
        jsonschema.Draft7Validator(formats.schema("release")).iter_errors(tomllib.loads(text))
    )


def _lock() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REPO / "emtk3s.lock").read_text())
    return data


def _src(d: dict[str, Any]) -> dict[str, Any]:
    src: dict[str, Any] = d["packages"]["k3s-iptables-helpers"]["sources"][0]
    return src


BAD_LOCKS = [
    (lambda d: _src(d).update(sha256="not-a-hash"), "sources[0].sha256 = 'not-a-hash'"),
    (lambda d: _src(d).update(colour="red"), "unknown key packages.k3s-iptables-helpers"),
    (lambda d: _src(d).update(size=-1), "sources[0].size = -1"),
    (lambda d: _src(d).update(mirror="Else Where"), "sources[0].mirror = 'Else Where'"),
    (lambda d: _src(d).pop("origin"), "sources[0].origin is missing"),
    (lambda d: d["components"]["k3s"].update(commit="abc"), "components.k3s.commit = 'abc'"),
    (lambda d: d["components"]["k3s"].update(commit_time="now"), "components.k3s.commit_time"),
    (lambda d: d.update(release_digest="xyz"), "release_digest = 'xyz'"),
    (lambda d: d.pop("packages"), "packages is missing"),
]


@pytest.mark.parametrize("mutate, needle", BAD_LOCKS)
def test_bad_locks_are_refused_naming_field_and_fix(mutate: Any, needle: str) -> None:
    data = _lock()
    mutate(data)
    with pytest.raises(InputError) as exc:
        Lock.from_json(json.dumps(data), CATALOG.mirrors, "proj/emtk3s.lock")
    line = str(exc.value)
    assert needle in line and line.startswith("proj/emtk3s.lock: ") and "\n" not in line, line
    assert "emtk3s resolve" in exc.value.hint and "docs/formats.md" in exc.value.hint
    assert list(jsonschema.Draft7Validator(formats.schema("lock")).iter_errors(data))


def test_cli_bad_release_is_one_line_exit_2_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "release.toml").write_text('[release]\nk3s = "v1.32.4+k3s1"\nselinux = "yes"\n')
    for json_flag in ([], ["--json"]):
        proc = subprocess.run(
            [sys.executable, "-m", "emtk3s", "-C", str(tmp_path), *json_flag, "resolve"],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        err = proc.stderr.strip().splitlines()
        assert len(err) == 1 and "release.selinux = 'yes' is not true or false" in err[0], err
        assert "docs/formats.md" in err[0]
        assert not (tmp_path / "emtk3s.lock").exists()
    doc = json.loads(proc.stdout)
    assert doc["error"]["exit_code"] == 2 and "release.selinux" in doc["error"]["message"]


def test_schema_names_match_what_the_code_accepts() -> None:
    """The schema names the keys every release has; the keys package folders add ([release]
    pins, mirror names) fit its patterns, so a release using all of them fits. Which names exist
    is the readers' check (an unknown mirror is an error from model/release.py)."""
    rel = formats.schema("release")["properties"]
    fixed = set(rel["release"]["properties"])
    assert fixed == {"k3s", "arches", "airgap_images", "selinux", "release", "packages"}
    assert set(rel["release"]["properties"]["arches"]["items"]["enum"]) == set(release_toml.ARCHES)
    pins = {c.release_key: "v0.1.0" for c in CATALOG.components.values() if c.release_key}
    assert pins, "a package folder defines a [release] key"
    mirrors = {name: "https://mirror.example/" + name for name in CATALOG.mirrors}
    raw = {
        "release": {"k3s": "v1.32.4+k3s1", **pins},
        "mirrors": {**mirrors, "allow_http": sorted(mirrors)},
    }
    formats.check("release", raw, "release.toml")
    release_toml.parse(raw, CATALOG, environ={})  # and the reader knows every one of them
    lock_mirror = formats.schema("lock")["definitions"]["source"]["properties"]["mirror"]
    for name in [*mirrors, GENERATED]:
        assert re.fullmatch(lock_mirror["pattern"].strip("^$"), name), name
    docs = (REPO / "docs" / "formats.md").read_text()
    for key in [*fixed, *pins, *mirrors, "allow_http"]:
        assert f"`{key}`" in docs, key


def test_a_valid_lock_copy_with_every_optional_field_fits() -> None:
    data = _lock()
    src = copy.deepcopy(_src(data))
    src.update(url="https://example.invalid/x.tar.gz", sha512="0" * 128)
    data["packages"]["k3s-iptables-helpers"]["sources"].append(src | {"name": "x.tar.gz"})
    formats.check("lock", data, "emtk3s.lock")
