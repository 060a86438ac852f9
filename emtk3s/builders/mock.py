"""The mock backend: a generated mock config (EMT root, the local chain repo, no network,
reproducibility macros) and the `mock --rebuild` command line, with mock's exit codes mapped to
causes. mock is not installable on Debian: the config and the command are tested; a real mock run
is not (docs/backends.md)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from emtk3s.infra import checks
from emtk3s.infra.errors import BuildError, EnvironmentProblem
from emtk3s.infra.paths import data_file
from emtk3s.infra.rpm import macros as emt_macros

#: mock's documented exit codes (mock/py/mock/exception.py) -> cause
MOCK_EXIT_CAUSES: dict[int, str] = {
    0: "success",
    1: "unexpected error in mock",
    5: "command-line error",
    10: "the build failed (rpmbuild)",
    20: "the chroot could not be set up",
    30: "the package manager failed (BuildRequires could not be installed)",
    40: "the SRPM is bad",
    50: "a subcommand could not be started",
    60: "the build root is locked by another mock",
    70: "the result directory could not be created",
}

CHROOT_SETUP = (
    "bash bzip2 coreutils cpio diffutils findutils gawk glibc-devel grep gzip make patch "
    "rpm-build sed shadow-utils tar unzip util-linux which xz"
)


@dataclass(frozen=True)
class MockSetup:
    arch: str  # x86_64 | aarch64
    distro_repo: str  # EMT package repository URL (a mirror)
    local_repo: Path  # the chain's local repository (RPMS/ with repodata)
    source_date_epoch: int


def config_text(setup: MockSetup) -> str:
    """A mock config (Python executed by mock with ``config_opts`` in scope), rendered from
    data/templates/mock.cfg.j2 as mock's own configs are templates over data."""
    checks.url(setup.distro_repo, "EMT repository URL")
    if setup.arch not in ("x86_64", "aarch64"):
        raise EnvironmentProblem(
            f"mock: arch {setup.arch!r} is not supported", "use x86_64 or aarch64"
        )
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_file("templates"))),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pyrepr"] = repr
    return env.get_template("mock.cfg.j2").render(
        arch=setup.arch,
        chroot_setup=CHROOT_SETUP,
        source_date_epoch=int(setup.source_date_epoch),
        macros=sorted((f"%{n}", v) for n, v in emt_macros.definitions()),
        distro_repo=setup.distro_repo,
        local_repo=setup.local_repo.resolve().as_uri(),
    )


def command(config: Path, srpm: Path, resultdir: Path) -> list[str]:
    return [
        "mock",
        "-r",
        str(config),
        "--rebuild",
        str(srpm),
        "--resultdir",
        str(resultdir),
        "--no-cleanup-after",
        "--isolation=simple",
    ]


def explain(code: int) -> str:
    return MOCK_EXIT_CAUSES.get(code, f"unknown mock exit code {code}")


def rebuild(config: Path, srpm: Path, resultdir: Path, log: Path) -> list[Path]:
    if shutil.which("mock") is None:
        raise EnvironmentProblem(
            "mock is not installed on this host",
            "use --backend chroot or rpmbuild here, or run on a Fedora/EMT host with mock",
        )
    resultdir.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as fh:
        proc = subprocess.run(command(config, srpm, resultdir), stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise BuildError(
            f"mock exited {proc.returncode}: {explain(proc.returncode)}; logs: {resultdir}, {log}",
            "read build.log and root.log in the result directory",
        )
    return sorted(p for p in resultdir.glob("*.rpm") if not p.name.endswith(".src.rpm"))
