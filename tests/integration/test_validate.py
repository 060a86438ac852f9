"""validate checks every spec that needs it with one rpmlint and parallel ``rpmspec -P``: a
finding names only the spec it is in, and the specs rpmlint passed stay validated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from emtk3s.infra.errors import BuildError
from emtk3s.infra.paths import Project
from emtk3s.stages.validate import NAME, validate_specs

REPO_SPECS = Path(__file__).resolve().parents[2] / "SPECS"
PACKAGES = sorted(p.name for p in REPO_SPECS.iterdir() if (p / f"{p.name}.spec").is_file())
ARCHES = ["x86_64", "aarch64"]


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    shutil.copytree(REPO_SPECS, tmp_path / "p" / "SPECS")
    return Project.at(tmp_path / "p", tmp_path / "cache")


def test_every_spec_checked_once_then_skipped(project: Project) -> None:
    first = validate_specs(project, PACKAGES, ARCHES)
    assert sorted(first.checked) == PACKAGES and first.skipped == []
    again = validate_specs(project, PACKAGES, ARCHES)
    assert again.checked == [] and sorted(again.skipped) == PACKAGES


def test_an_rpmlint_finding_names_its_spec_and_the_others_stay_validated(
    project: Project,
) -> None:
    bad = PACKAGES[-1]
    spec = project.specs / bad / f"{bad}.spec"
    text = spec.read_text()
    spec.write_text(text.replace("\n%build\n", "\n%build\n# makes %{version}\n", 1))
    with pytest.raises(BuildError) as err:
        validate_specs(project, PACKAGES, ARCHES)
    assert err.value.message == f"rpmlint found problems in {bad}.spec"
    assert "macro-in-comment" in err.value.details
    for pkg in PACKAGES:
        assert project.stamps.load(NAME, pkg) is not None or pkg == bad
    assert project.stamps.load(NAME, bad) is None
    spec.write_text(text)
    fixed = validate_specs(project, PACKAGES, ARCHES)
    assert fixed.checked == [bad], "only the spec that failed is checked again"


def test_a_network_command_in_a_build_section_is_refused(project: Project) -> None:
    pkg = PACKAGES[0]
    spec = project.specs / pkg / f"{pkg}.spec"
    spec.write_text(spec.read_text().replace("\n%build\n", "\n%build\ncurl -O https://x/y\n", 1))
    with pytest.raises(BuildError, match="a network command"):
        validate_specs(project, PACKAGES, ARCHES)


def test_an_rpmspec_failure_names_the_spec_and_arch(project: Project) -> None:
    pkg = PACKAGES[1]
    spec = project.specs / pkg / f"{pkg}.spec"
    spec.write_text(spec.read_text().replace("\n%build\n", "\n%build\n%{error:broken}\n", 1))
    with pytest.raises(BuildError, match=rf"{pkg}\.spec: rpmspec -P --target x86_64 failed"):
        validate_specs(project, PACKAGES, ARCHES)
