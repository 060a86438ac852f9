"""release.toml, the lock file and template values: strict validation, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emtk3s import catalog
from emtk3s.infra import checks
from emtk3s.infra.errors import InputError
from emtk3s.model import release as release_toml
from emtk3s.model.lock import Lock
from emtk3s.packages.k3s.upstream import parse_version_sh
from emtk3s.stages import render
from emtk3s.stages.resolve import input_digest

CATALOG = catalog.load()

REPO = Path(__file__).resolve().parents[2]


def test_default_release_loads_and_matches_committed_lock() -> None:
    rel = release_toml.load(REPO / "release.toml", CATALOG, environ={})
    assert rel.k3s.tag == "v1.32.4+k3s1"
    assert rel.overrides == {}
    lock = Lock.from_json((REPO / "emtk3s.lock").read_text(), CATALOG.mirrors)
    assert lock.release_digest == input_digest(rel), "release.toml or pkgdefs changed: re-resolve"
    root = lock.components["k3s-root"]
    assert (root.tag, root.commit) == ("v0.14.1", "1f35cfd3a0b62742b097040a35edf30653900410")


def test_mirror_precedence_file_env_flag(tmp_path: Path) -> None:
    f = tmp_path / "release.toml"
    f.write_text('[release]\nk3s = "v1.32.4+k3s1"\n[mirrors]\ngithub = "https://file.example"\n')
    assert release_toml.load(f, CATALOG, environ={}).mirror("github") == "https://file.example"
    env = {"EMTK3S_MIRROR_GITHUB": "https://env.example"}
    assert release_toml.load(f, CATALOG, environ=env).mirror("github") == "https://env.example"
    flags = release_toml.parse_mirror_flags(["github=https://flag.example"], CATALOG)
    assert (
        release_toml.load(f, CATALOG, flags, environ=env).mirror("github") == "https://flag.example"
    )


def test_http_mirror_allowed_only_by_name(tmp_path: Path) -> None:
    f = tmp_path / "release.toml"
    f.write_text('[release]\nk3s = "v1.32.4+k3s1"\n[mirrors]\ngithub = "http://mirror.lan"\n')
    with pytest.raises(InputError, match="plain http"):
        release_toml.load(f, CATALOG, environ={})
    f.write_text(
        '[release]\nk3s = "v1.32.4+k3s1"\n[mirrors]\ngithub = "http://mirror.lan"\nallow_http = ["github"]\n'
    )
    assert release_toml.load(f, CATALOG, environ={}).mirror("github") == "http://mirror.lan"


@pytest.mark.parametrize(
    "value",
    ["ext::sh -c id", "-uhttps://x", "--upload-pack=id", "fd::3"],
)
def test_git_url_refuses_transports_and_options(value: str) -> None:
    with pytest.raises(InputError):
        checks.git_url(value)


@pytest.mark.parametrize(
    "value",
    ["1.0\n%post\nrm -rf /", "%{lua: os.execute('id')}", "$(id)", "`id`", "a\\b", "x\r"],
)
def test_template_values_refused(value: str) -> None:
    with pytest.raises(InputError, match="could inject spec syntax"):
        render.check_values({"pkg": {"version": value}})


def test_changelog_author_cannot_inject(tmp_path: Path) -> None:
    f = tmp_path / "release.toml"
    f.write_text('[release]\nk3s = "v1.32.4+k3s1"\n[changelog]\nauthor = "Eve %{?_sbindir}"\n')
    with pytest.raises(InputError, match="changelog.author"):
        release_toml.load(f, CATALOG, environ={})


def test_lock_edited_badly_is_a_clear_error() -> None:
    data = json.loads((REPO / "emtk3s.lock").read_text())
    data["packages"]["k3s-iptables-helpers"]["sources"][0]["sha256"] = "not-a-hash"
    with pytest.raises(InputError, match="sha256"):
        Lock.from_json(json.dumps(data), CATALOG.mirrors)
    data = json.loads((REPO / "emtk3s.lock").read_text())
    data["packages"]["k3s-iptables-helpers"]["sources"][0]["name"] = "../../etc/passwd"
    with pytest.raises(InputError, match="plain file name"):
        Lock.from_json(json.dumps(data), CATALOG.mirrors)
    with pytest.raises(InputError, match="release_digest is missing"):
        Lock.from_json('{"version": 1}', CATALOG.mirrors)
    with pytest.raises(InputError, match="not a valid lock"):
        Lock.from_json("[1]", CATALOG.mirrors)


def test_version_sh_styles() -> None:
    text = (
        'VERSION_ROOT="v0.14.1"\n'
        "VERSION_CNIPLUGINS=v1.6.0-k3s1\n"
        'VERSION_FLANNEL_PLUGIN=${VERSION_FLANNEL_PLUGIN:-"v1.6.0-flannel1"}\n'
        "VERSION_CONTAINERD=$(get-module-version github.com/containerd/containerd)\n"
    )
    facts = parse_version_sh(text)
    assert facts == {
        "VERSION_ROOT": "v0.14.1",
        "VERSION_CNIPLUGINS": "v1.6.0-k3s1",
        "VERSION_FLANNEL_PLUGIN": "v1.6.0-flannel1",
    }


def test_version_sh_bad_value_names_file_and_line() -> None:
    with pytest.raises(InputError, match=r"scripts/version.sh:2: .*VERSION_ROOT"):
        parse_version_sh('# x\nVERSION_ROOT="v0.14.1%{x}"\n')
