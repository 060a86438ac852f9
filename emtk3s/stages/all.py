"""all: resolve -> fetch -> render -> license -> validate -> srpm -> build, one stage after the other; each
stage skips what its own stamps say is unchanged. Offline, it goes as far as the cache allows
and says where it stopped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emtk3s.infra.errors import Emtk3sError
from emtk3s.infra.jsonout import jsonable
from emtk3s.stages import build, fetch, license, render, resolve, srpm, validate
from emtk3s.stages.context import StageRun

#: the pipeline, in order (each module has NAME and run(StageRun) -> result)
PIPELINE = (resolve, fetch, render, license, validate, srpm, build)
STAGES = tuple(m.NAME for m in PIPELINE)


@dataclass
class AllResult:
    stages: dict[str, Any] = field(default_factory=dict)  # stage name -> its result
    stopped: str | None = None  # why the chain stopped early (offline, --until)
    outputs: dict[str, str] = field(default_factory=dict)
    #: --offline, and these asked-for packages could not be built without the network
    needs_network: list[str] = field(default_factory=list)

    failed: str | None = None  # the stage that raised (its partial result is in stages)

    JSON_EXTRA = ("finished",)

    @property
    def finished(self) -> list[str]:
        """The stages that ran to the end, in order (a failing ``all`` carries them)."""
        return [s for s in self.stages if s != self.failed]

    def changed_nothing(self) -> bool:
        """Every stage ran and found its outputs up to date: nothing resolved, fetched,
        rendered, checked or built, upstream not contacted, nothing left undone."""
        st = self.stages
        if self.failed or self.stopped or self.needs_network or tuple(st) != STAGES:
            return False
        res, f, rr, lic, v = st["resolve"], st["fetch"], st["render"], st["license"], st["validate"]
        return (
            not (res.changed or res.network)
            and not (f.downloaded or f.missing or f.generated or f.pinned or f.lock_changed)
            and not (rr.written or rr.drift or rr.skipped or rr.history)
            and not (lic.changelog_changed or lic.skipped)
            and not v.checked
            and all(s.skipped for s in st["srpm"].srpms)
            and all(b.skipped for b in st["build"].builds)
        )


def run_all(r: StageRun, until: str = "build") -> AllResult:
    project = r.project
    res = AllResult(
        outputs={
            "specs": str(project.specs),
            "srpms": str(project.srpms),
            "rpms": str(project.rpms),
        }
    )
    for stage in PIPELINE:
        try:
            out = stage.run(r)
        except Emtk3sError as exc:
            if exc.result is not None:  # the stage's partial result (a build's table)
                res.stages[stage.NAME] = exc.result
            res.failed = stage.NAME
            exc.result = jsonable(res)
            raise
        res.stages[stage.NAME] = out
        r = r.after(out)
        if stage.NAME == until:
            break
    if until != "build":
        res.stopped = f"--until {until}"
        return res
    notes = [f"{p}: {why}" for p, why in r.unrendered.items()]
    if r.uncached:
        notes.append(
            f"sources of {', '.join(sorted(r.uncached))} are not in the cache "
            f"{project.cache.root}; run emtk3s fetch with network or a mirror"
        )
    res.stopped = "; ".join(notes) if notes else None
    if r.options.offline:
        res.needs_network = sorted(set(r.unrendered) | set(r.uncached))
    return res
