"""The chain: SPECS/ (the named packages, else all) planned into a build graph and built in
dependency order with one backend, each result published into the local repository before its
dependents start."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from emtk3s.builders import dispatch
from emtk3s.builders import graph as build_graph
from emtk3s.builders.scheduler import ChainResult, Entry, run_chain
from emtk3s.infra.paths import Project
from emtk3s.infra.progress import BuildProgress
from emtk3s.model import lock as lockmod
from emtk3s.model.package import Catalog
from emtk3s.stages import srpm


def chain(
    project: Project,
    catalog: Catalog,
    packages: list[str],
    backend: str,
    chroot: Path | None = None,
    nodeps: bool = False,
    mock_repo: str | None = None,
    arch: str = "x86_64",
    jobs: int = 1,
    keep_going: bool = False,
    force: bool = False,
    keep_other: bool = False,
    on_event: Callable[[Entry], None] | None = None,
) -> ChainResult:
    lock = lockmod.load(project.lock_file, catalog.mirrors)
    graph = build_graph.for_project(project, packages or None)
    build = dispatch.builder(
        project,
        backend,
        chroot=chroot,
        nodeps=nodeps,
        force=force,
        keep_other=keep_other,
        mock_repo=mock_repo,
        arch=arch,
        chain_deps=catalog.chain_deps(),
    )
    with BuildProgress() as progress:
        return run_chain(
            project,
            graph,
            srpm.maker(project, lock, catalog),
            build,
            jobs=jobs,
            keep_going=keep_going,
            on_event=on_event,
            progress=progress,
        )
