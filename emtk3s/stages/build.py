"""build: SRPMS/ -> RPMS/<arch>/ with the chosen backend (rpmbuild, chroot, mock), in the
dependency order of the specs, each result published into the local repository (createrepo_c)
before its dependents start. ``build``, ``all`` and ``chain`` share this one path and its
result shape (one :class:`~emtk3s.builders.scheduler.Entry` per package)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from emtk3s.infra.errors import Emtk3sError
from emtk3s.infra.jsonout import jsonable
from emtk3s.model.status import BuildStatus
from emtk3s.stages import srpm as srpm_stage
from emtk3s.stages.context import StageRun

if TYPE_CHECKING:
    from emtk3s.builders.scheduler import Entry

NAME = "build"


@dataclass
class BuildResult:
    builds: list[Entry] = field(default_factory=list)  # in build order
    repo: str | None = None


def run(r: StageRun) -> BuildResult:
    from emtk3s.builders import dispatch
    from emtk3s.builders import graph as build_graph
    from emtk3s.builders.scheduler import run_chain

    o, project = r.options, r.project
    lock = r.need_lock()
    srpms = r.srpms
    if srpms is None:  # not after the srpm stage of this run: make (or reuse) them
        made = srpm_stage.run(replace(r, options=replace(o, force=False)))
        srpms = tuple(made.srpms)
    if not srpms:
        return BuildResult()
    build = dispatch.builder(
        project,
        o.backend,
        chroot=o.chroot,
        nodeps=o.nodeps,
        force=o.force,
        keep_other=o.keep_other_backend,
        mock_repo=o.mock_repo,
        chain_deps=r.catalog.chain_deps(),
    )
    graph = build_graph.for_project(project, [i.package for i in srpms])
    from emtk3s.infra.progress import BuildProgress

    with BuildProgress() as progress:
        chain = run_chain(
            project,
            graph,
            srpm_stage.maker(project, lock, r.catalog),
            build,
            jobs=o.jobs,
            keep_going=o.keep_going,
            srpms={i.package: i for i in srpms},
            need_repo=o.backend != "rpmbuild",
            progress=progress,
        )
    entries = [chain.entries[n] for n in chain.order]
    result = BuildResult(entries, chain.repo if entries else None)
    failed = [e for e in entries if e.status == BuildStatus.FAILED]
    if failed:
        first = failed[0].exc
        err: Emtk3sError
        if len(failed) == 1 and first is not None:
            err = first  # its own category and exit code (a missing tool is not a build failure)
        else:
            from emtk3s.builders.scheduler import chain_error

            err = chain_error(
                chain,
                f"build failed for {', '.join(e.package for e in failed)}",
                "read the logs (emtk3s chain --keep-going builds what does not depend on them)",
            )
        err.result = jsonable(result)
        raise err
    return result
