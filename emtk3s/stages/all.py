"""all: resolve -> fetch -> render -> validate -> srpm -> build, each stage skipped when its
inputs did not change. Offline, it goes as far as the cache allows and says where it stopped."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emtk3s.builders import rpmbuild as backends
from emtk3s.infra import stamps as state
from emtk3s.infra.http import Policy
from emtk3s.infra.paths import Project
from emtk3s.model import lock as lockmod
from emtk3s.model import release as manifest
from emtk3s.model.changelog import load_history
from emtk3s.stages import fetch as fetch_stage
from emtk3s.stages import render, resolve, srpm
from emtk3s.stages.validate import validate_specs

STAGES = ("resolve", "fetch", "render", "validate", "srpm", "build")


@dataclass
class AllResult:
    stages: dict[str, Any] = field(default_factory=dict)
    stopped: str | None = None  # why the chain stopped early (offline, --until)
    outputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"stages": self.stages, "stopped": self.stopped, "outputs": self.outputs}


def run_all(
    project: Project,
    release: manifest.Release,
    *,
    packages: list[str] | None = None,
    offline: bool = False,
    locked: bool = False,
    nodeps: bool = False,
    until: str = "build",
    backend: str = "rpmbuild",
    chroot: Path | None = None,
    mock_repo: str | None = None,
    policy: Policy | None = None,
    quiet: bool = False,
) -> AllResult:
    res = AllResult(
        outputs={
            "specs": str(project.specs),
            "srpms": str(project.srpms),
            "rpms": str(project.rpms),
        }
    )
    r = resolve.resolve(release, project.cache, project.lock_file, locked=locked, offline=offline)
    res.stages["resolve"] = r.to_dict()
    lock = r.lock
    wanted = packages or sorted(lock.packages)
    if until == "resolve":
        res.stopped = "--until resolve"
        return res

    f = fetch_stage.fetch(
        release,
        lock,
        project.cache,
        project.lock_file,
        packages=wanted,
        offline=offline,
        locked=locked,
        policy=policy,
        quiet=quiet,
    )
    res.stages["fetch"] = f.to_dict()
    if until == "fetch":
        res.stopped = "--until fetch"
        return res
    lock = lockmod.require(project.lock_file)
    missing_pkgs = sorted({m.split("/", 1)[0] for m in f.missing})
    renderable = [p for p in wanted if not render.not_renderable(lock, p)]
    # unchanged inputs and untouched SPECS/<pkg>: nothing to render (and jinja2 is not loaded)
    history = load_history(project.root)
    hist_text = json.dumps(history, sort_keys=True)
    keys = {
        p: state.digest(render.inputs_digest(release, lock, p, project.templates), hist_text)
        for p in renderable
    }
    fresh = []
    for p in renderable:
        stamp = state.load(project.state, "render", p)
        if (
            stamp
            and stamp["key"] == keys[p]
            and stamp["tree"] == render.tree_digest(project.specs / p)
        ):
            fresh.append(p)
    rr = render.render(
        release,
        lock,
        project.templates,
        project.specs,
        [p for p in renderable if p not in fresh],
        history=history,
    )
    rr.unchanged += fresh
    for p in renderable:
        if p not in fresh:
            state.save(
                project.state,
                "render",
                p,
                {"key": keys[p], "tree": render.tree_digest(project.specs / p)},
            )
    rr.skipped = {p: render.not_renderable(lock, p) for p in wanted if p not in renderable}
    res.stages["render"] = rr.to_dict()
    if until == "render":
        res.stopped = "--until render"
        return res
    res.stages["validate"] = validate_specs(project, renderable, list(release.arches)).to_dict()
    if until == "validate":
        res.stopped = "--until validate"
        return res
    buildable = [p for p in renderable if p not in missing_pkgs]
    notes = [f"{p}: {why}" for p, why in rr.skipped.items()]
    if missing_pkgs:
        notes.append(
            f"sources of {', '.join(missing_pkgs)} are not in the cache "
            f"{project.cache.root}; run emtk3s fetch with network or a mirror"
        )
    if notes:
        res.stopped = "; ".join(notes)
    s = srpm.srpm(project, lock, buildable)
    res.stages["srpm"] = s.to_dict()
    if until == "srpm":
        res.stopped = "--until srpm"
        return res
    if backend == "rpmbuild":
        b = backends.BuildResult()
        for info in s.srpms:
            b.builds.append(backends.rebuild_rpmbuild(project, info, nodeps=nodeps))
        if any(not x.skipped for x in b.builds):
            b.repo = backends.publish_repo(project)
        res.stages["build"] = b.to_dict()
        return res
    # chroot / mock: the chain, in dependency order, each result in the local repo for the next
    from emtk3s.builders import dispatch
    from emtk3s.builders import graph as plan
    from emtk3s.builders.scheduler import run_chain

    graph = plan.plan(plan.specs_in(project.specs, [i.package for i in s.srpms]))
    graph.save(project.root / ".emtk3s" / "graph.json")
    build = dispatch.builder(project, backend, chroot=chroot, nodeps=nodeps, mock_repo=mock_repo)
    chain = run_chain(project, graph, lock, build, jobs=1)
    res.stages["build"] = {
        "builds": [
            {
                "package": e.package,
                "rpms": e.rpms,
                "skipped": e.status == "up to date",
                "log": e.log,
                "backend": backend,
                "status": e.status,
                "error": e.error,
            }
            for e in (chain.entries[n] for n in chain.order)
        ],
        "repo": chain.repo,
    }
    if chain.failed:
        from emtk3s.infra.errors import BuildError

        err = BuildError(
            f"build failed for {', '.join(chain.failed)}; logs: "
            + ", ".join(chain.entries[n].log for n in chain.failed),
            "read the logs (emtk3s chain --keep-going builds what does not depend on them)",
        )
        err.result = res.to_dict()
        raise err
    return res
