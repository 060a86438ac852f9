"""What a person reads: a no-op `all` says one line per package and nothing on stderr; `show`
prints tables (JSON with --json, only the named package); names of any length stay aligned."""

from __future__ import annotations

from tests.conftest import ProjectDir

PKGS = ["fuse-overlayfs", "k3s-iptables-helpers"]


def test_a_noop_all_prints_one_line_per_package_naming_the_backend(project: ProjectDir) -> None:
    project.write_release(packages=PKGS)
    first = project.run("all", "--nodeps")
    assert "building: fuse-overlayfs" in first.err  # a real build is announced
    again = project.run("all", "--nodeps")
    lines = again.out.strip().splitlines()
    assert len(lines) == len(PKGS), again.out
    for pkg, line in zip(PKGS, lines, strict=True):
        assert line.startswith(pkg) and "up to date" in line and "(rpmbuild)" in line, line
    assert again.err == "", "nothing about cache hits or builds that did not run"
    # columns line up whatever the name lengths
    assert len({line.index("srpm") for line in lines}) == 1


def test_show_is_a_table_for_a_person_and_json_for_a_program(project: ProjectDir) -> None:
    project.write_release(packages=PKGS)
    project.run("resolve")
    overview = project.run("show").out
    assert not overview.lstrip().startswith("{"), "a table, not the raw lock"
    components = overview.split("\n\n")[0].splitlines()
    rows = [line for line in components if line.startswith(("fuse-overlayfs", "k3s "))]
    assert len({r.index(r.split()[1]) for r in rows}) == 1, rows  # tags in one column
    pkg = project.run("--json", "show", "k3s-iptables-helpers").json["result"]
    assert set(pkg) == {"package", "component"} and pkg["package"]["name"] == "k3s-iptables-helpers"
    human = project.run("show", "k3s-iptables-helpers").out
    assert "package k3s-iptables-helpers 0.14.1" in human and "LICENSE" in human
    bad = project.run("show", "nosuch", check=False)
    assert bad.code == 2
    choices = bad.err.split("choose from ", 1)[1].rstrip(")\n").split(", ")
    assert len(choices) == len(set(choices)), "each name once"


def test_show_finds_a_piece_that_is_a_source_not_a_component(project: ProjectDir) -> None:
    project.write_release(packages=["k3s"])
    project.run("resolve")
    doc = project.run("--json", "show", "runc").json["result"]
    assert doc["package"] == "k3s" and doc["source"]["name"].startswith("runc-")
    assert doc["version"] and doc["source"]["name"] == f"runc-{doc['version']}.tar.gz"
    assert "in package k3s" in project.run("show", "runc").out


def test_resolve_table_aligns_long_component_names(project: ProjectDir) -> None:
    project.write_release(packages=PKGS)
    out = project.run("resolve").out
    rows = [line for line in out.splitlines() if not line.startswith(("lock ", "unpinned"))]
    starts = {line.index(line.split()[1]) for line in rows if len(line.split()) == 3}
    assert len(starts) == 1, rows
