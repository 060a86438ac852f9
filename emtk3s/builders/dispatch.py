"""Pick a backend by name: one callable ``(srpm, repo) -> BuildInfo`` for build and chain."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from emtk3s.builders.rpmbuild import rebuild_rpmbuild, stamped_build
from emtk3s.infra.errors import InputError
from emtk3s.infra.paths import Project
from emtk3s.model.artifacts import BuildInfo, SrpmInfo

if TYPE_CHECKING:
    from emtk3s.builders import mock

BACKENDS = ("rpmbuild", "chroot", "mock")


def builder(
    project: Project,
    backend: str,
    *,
    chroot: Path | None = None,
    nodeps: bool = False,
    force: bool = False,
    keep_other: bool = False,
    mock_repo: str | None = None,
    arch: str = "x86_64",
    chain_deps: Mapping[str, tuple[str, str]] | None = None,
) -> Callable[[SrpmInfo, Path], BuildInfo]:
    """The build function of a backend. ``chain_deps``: BuildRequires the chain builds itself
    (``Catalog.chain_deps``; the rpmbuild backend points the spec at their RPMs);
    ``keep_other``: keep RPMs another backend made of the same SRPM instead of rebuilding."""
    if backend == "rpmbuild":
        deps = dict(chain_deps or {})
        return lambda info, repo: rebuild_rpmbuild(
            project, info, deps, nodeps=nodeps, force=force, keep_other=keep_other
        )
    if backend == "chroot":
        if chroot is None:
            raise InputError(
                "--backend chroot needs --chroot DIR|TARBALL", "e.g. --chroot worker_chroot.tar.gz"
            )
        from emtk3s.builders.chroot import rebuild_chroot

        return lambda info, repo: rebuild_chroot(
            project, info, chroot, repo, force=force, keep_other=keep_other
        )
    if backend == "mock":
        if not mock_repo:
            raise InputError(
                "--backend mock needs --mock-repo URL (the EMT package repository)", ""
            )

        from emtk3s.builders import mock

        def run_mock(info: SrpmInfo, repo: Path) -> BuildInfo:
            epoch, _requires = info.header()
            cfg = write_config(project, mock.MockSetup(arch, mock_repo, repo, epoch))

            def run(work: Path, log: Path) -> list[Path]:
                return mock.rebuild(cfg, info.path, work / "result", log)

            return stamped_build(project, info, "mock", [cfg.read_text()], run, force, keep_other)

        return run_mock
    raise InputError(f"unknown backend {backend!r}", f"use one of {', '.join(BACKENDS)}")


def write_config(project: Project, setup: mock.MockSetup) -> Path:
    cfg = project.root / ".emtk3s" / "mock" / f"emtk3s-emt3-{setup.arch}.cfg"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    from emtk3s.builders import mock
    from emtk3s.infra.fsutil import write_if_changed

    write_if_changed(cfg, mock.config_text(setup).encode(), durable=False)
    return cfg
