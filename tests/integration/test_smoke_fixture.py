from tests.conftest import Project


def test_all_builds_helper_package_from_fixture_upstream(project: Project) -> None:
    res = project.run("--json", "all")
    data = res.json["result"]
    assert data["stages"]["resolve"]["network"] is True
    rpms = data["stages"]["build"]["builds"][0]["rpms"]
    assert rpms and rpms[0].endswith(".noarch.rpm")
