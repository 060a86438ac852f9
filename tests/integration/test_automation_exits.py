"""What automation needs from the command line: documented exit codes for every outcome, JSON
for every --json (help and version too), one-line usage errors, and a word about a misspelt
EMTK3S_ variable instead of silence."""

from __future__ import annotations

import json

from tests.conftest import ProjectDir

PKG = "k3s-iptables-helpers"


def test_fetch_offline_with_sources_missing_is_exit_11_like_all_offline(
    project: ProjectDir,
) -> None:
    project.write_release(packages=[PKG])
    project.run("resolve")
    res = project.run("fetch", "--offline", check=False)
    assert res.code == 11, res.err
    assert "needs network" in res.err and "missing:" in res.err
    doc = project.run("--json", "fetch", "--offline", check=False).json
    assert doc["error"]["category"] == "needs-network" and doc["result"]["missing"]
    project.run("fetch")
    assert project.run("fetch", "--offline").code == 0  # everything cached: nothing to say


def test_json_help_and_version_are_json(project: ProjectDir) -> None:
    for args, key in (
        (("--json", "--version"), "version"),
        (("--json", "--help"), "help"),
        (("show", "--help", "--json"), "help"),
    ):
        res = project.run(*args)
        doc = json.loads(res.out)
        assert doc["ok"] is True and doc["result"][key], args
    assert "Usage: emtk3s show" in project.run("show", "--help", "--json").json["result"]["help"]


def test_usage_errors_are_one_line_naming_the_help_to_read(project: ProjectDir) -> None:
    for args, helpcmd in (
        (("shwo",), "emtk3s --help"),
        (("emt", "integrat"), "emtk3s emt --help"),
        (("resolve", "--ofline"), "emtk3s resolve --help"),
    ):
        res = project.run(*args, check=False)
        assert res.code == 2
        lines = res.err.strip().splitlines()
        assert len(lines) == 1, res.err
        assert lines[0].startswith("emtk3s") and f"(see {helpcmd})" in lines[0], lines


def test_a_misspelt_emtk3s_variable_is_named_with_the_nearest_known_one(
    project: ProjectDir,
) -> None:
    project.write_release(packages=[PKG])
    env = project.env()
    env["EMTK3S_MIRROR_GITHB"] = "http://127.0.0.1:1"
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "emtk3s", "-C", str(project.root), "resolve"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert (
        "warning: environment variable EMTK3S_MIRROR_GITHB is not used by emtk3s "
        "(did you mean EMTK3S_MIRROR_GITHUB?)" in res.stderr
    )
    assert res.stderr.count("EMTK3S_MIRROR_GITHB") == 1, "once per command"


def test_help_names_every_mirror(project: ProjectDir) -> None:
    from emtk3s import catalog

    text = " ".join(project.run("--help").out.split())
    for name in catalog.load().mirrors:
        assert name in text.split("--mirror NAME=URL", 1)[1].split("--json")[0], name
