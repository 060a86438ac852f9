"""Chain builds: every spec in dependency order, independent ones in parallel, each result
published into the local repository (createrepo_c) before its dependents start. A failure stops
its dependents and nothing else; without --keep-going no new build starts after a failure."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from emtk3s.builders import outputs
from emtk3s.builders.graph import Graph
from emtk3s.builders.rpmbuild import publish_repo
from emtk3s.infra.cache import sha256_file
from emtk3s.infra.errors import BuildError, Emtk3sError, InputError
from emtk3s.infra.fsutil import file_lock, write_text
from emtk3s.infra.jsonout import dumps
from emtk3s.infra.paths import Project
from emtk3s.infra.progress import BuildProgress
from emtk3s.infra.rpm import tools as rpmtools
from emtk3s.infra.rpm.header import read_header
from emtk3s.model.artifacts import BuildInfo, SrpmInfo
from emtk3s.model.status import BuildStatus

#: statuses after which a dependent cannot build
DEAD = (BuildStatus.FAILED, BuildStatus.SKIPPED)


@dataclass
class Entry:
    """One package's build, whichever backend ran it (``build``, ``all`` and ``chain``)."""

    JSON_EXTRA: ClassVar[tuple[str, ...]] = ("skipped",)

    package: str
    status: BuildStatus = BuildStatus.PENDING
    rpms: list[str] = field(default_factory=list)
    log: str = ""
    error: str = ""
    seconds: float = field(default=0.0, metadata={"json": lambda s: round(s, 2)})
    srpm: str = ""
    backend: str = ""
    category: str = ""  # of the error that failed it (environment, build, ...)
    # why it failed (raised again by the build stage: its own category and exit code)
    exc: Emtk3sError | None = field(
        default=None, repr=False, compare=False, metadata={"json": False}
    )

    @property
    def skipped(self) -> bool:
        """Up to date: nothing was built."""
        return self.status == BuildStatus.UP_TO_DATE


@dataclass
class ChainResult:
    JSON_EXTRA: ClassVar[tuple[str, ...]] = ("packages", "failed")

    order: list[str]
    entries: dict[str, Entry] = field(metadata={"json": False})
    repo: str

    @property
    def packages(self) -> list[Entry]:
        return [self.entries[n] for n in self.order]

    @property
    def failed(self) -> list[str]:
        return [n for n, e in self.entries.items() if e.status == BuildStatus.FAILED]


def srpm_from_dir(project: Project, spec_dir: Path) -> SrpmInfo:
    """An SRPM from a spec directory in EMT's layout whose sources sit beside the spec (a
    packager's own package, or a fixture), checked against its signatures.json if present."""
    name = spec_dir.name
    spec = spec_dir / f"{name}.spec"
    sigs_file = spec_dir / f"{name}.signatures.json"
    if sigs_file.exists():
        sigs = json.loads(sigs_file.read_text()).get("Signatures", {})
        for fname, sha in sigs.items():
            f = spec_dir / fname
            if not f.is_file() or sha256_file(f) != sha:
                raise InputError(
                    f"{f}: missing or not matching {sigs_file.name}",
                    "fix the source or the signature",
                )
    project.work.mkdir(parents=True, exist_ok=True)
    top = Path(tempfile.mkdtemp(prefix=f"srpm-{name}-", dir=project.work))
    (top / "SOURCES").mkdir(parents=True)
    (top / "SPECS").mkdir()
    for f in spec_dir.iterdir():
        if f.is_file() and f != spec:
            shutil.copyfile(f, top / "SOURCES" / f.name)
    shutil.copyfile(spec, top / "SPECS" / spec.name)
    log = project.logs / f"srpm-{name}.log"
    cmd = [
        "rpmbuild",
        "-bs",
        *rpmtools.macro_args(Path(".")),
        "--define",
        "source_date_epoch_from_changelog 1",
        f"SPECS/{spec.name}",
    ]
    # not a spec emtk3s rendered: even its parse (%(...)) runs only in the sandbox
    try:
        rpmtools.run_sandboxed(cmd, log, cwd=top, writable=[top], readable=[])
    except BuildError:
        shutil.rmtree(top, ignore_errors=True)
        raise
    made = sorted((top / "SRPMS").glob("*.src.rpm"))
    if len(made) != 1:
        raise BuildError(f"rpmbuild -bs made {len(made)} SRPMs for {name}; log: {log}", "")
    # checked like any build output: a regular file, the source package of this spec
    expect = outputs.Expected(frozenset({name}), None, None, source=True)
    (out,) = outputs.publish(made, top / "SRPMS", project.srpms, expect)
    hdr = read_header(out)
    shutil.rmtree(top, ignore_errors=True)
    nevr = f"{hdr['name']}-{hdr['version']}-{hdr['release']}"
    return SrpmInfo(
        name, out, sha256_file(out), nevr, False, log, int(hdr["buildtime"]), tuple(hdr["requires"])
    )


def run_chain(
    project: Project,
    graph: Graph,
    make_srpm: Callable[[str], SrpmInfo | None],
    build: Callable[[SrpmInfo, Path], BuildInfo],
    jobs: int = 1,
    keep_going: bool = False,
    on_event: Callable[[Entry], None] | None = None,
    srpms: dict[str, SrpmInfo] | None = None,
    need_repo: bool = True,
    progress: BuildProgress | None = None,
) -> ChainResult:
    """Build the graph's packages in dependency order. ``srpms``: SRPMs already made (else
    ``make_srpm(name)`` makes a package's, or returns None for a spec that is not one of the
    lock's: its SRPM is made from its directory); ``need_repo``: the builds install from the local repository (chroot,
    mock), so createrepo_c must run before the first and after each (rpmbuild: only when
    createrepo_c is there)."""
    order = graph.order()
    entries = {n: Entry(n) for n in order}
    repo = project.rpms
    repo.mkdir(parents=True, exist_ok=True)
    if need_repo and not (repo / "repodata").exists():
        publish_repo(project, force=True)
    publish_lock = threading.Lock()
    stop = threading.Event()

    def one(name: str) -> Entry:
        e = entries[name]
        t0 = time.monotonic()
        started_ns = time.time_ns()
        if progress is not None:
            progress.start(name, project.logs / f"build-{name}.log")
        try:
            if srpms is not None and name in srpms:
                info = srpms[name]
            else:
                made = make_srpm(name)
                info = made or srpm_from_dir(project, graph.nodes[name].spec.parent)
            e.srpm = str(info.path)
            res = build(info, repo)
            e.rpms, e.log, e.backend = [str(p) for p in res.rpms], str(res.log), res.backend
            e.status = BuildStatus.UP_TO_DATE if res.skipped else BuildStatus.BUILT
            if not res.skipped:
                with publish_lock, file_lock(project.locks / "repo.lock"):
                    publish_repo(project, force=need_repo)
        except Emtk3sError as exc:
            e.status, e.error, e.exc = BuildStatus.FAILED, str(exc), exc
            e.category = exc.category
            # name a log only if this run wrote it (never an older run's log)
            log = Path(e.log) if e.log else project.logs / f"build-{name}.log"
            fresh = log.is_file() and log.stat().st_mtime_ns >= started_ns - 10_000_000
            e.log = str(log) if fresh else ""
        finally:
            if progress is not None:
                progress.stop(name)
        e.seconds = time.monotonic() - t0
        return e

    pending = set(order)
    running: dict[Future[Entry], str] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        while pending or running:
            for name in sorted(pending):
                if len(running) >= jobs or stop.is_set():
                    break
                deps = graph.nodes[name].deps
                if any(entries[d].status in DEAD for d in deps):
                    entries[name].status = BuildStatus.SKIPPED
                    entries[name].error = "a dependency failed: " + ", ".join(
                        d for d in deps if entries[d].status in DEAD
                    )
                    pending.discard(name)
                    if on_event:
                        on_event(entries[name])
                    continue
                if all(entries[d].status.ok for d in deps):
                    pending.discard(name)
                    entries[name].status = BuildStatus.BUILDING
                    running[pool.submit(one, name)] = name
            if not running:
                if pending and stop.is_set():
                    for name in sorted(pending):
                        entries[name].status, entries[name].error = (
                            BuildStatus.SKIPPED,
                            "stopped after a failure",
                        )
                    pending.clear()
                continue
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                running.pop(fut)
                e = fut.result()
                if e.status == BuildStatus.FAILED and not keep_going:
                    stop.set()
                if on_event:
                    on_event(e)
            if stop.is_set() and not running:
                for name in sorted(pending):
                    entries[name].status, entries[name].error = (
                        BuildStatus.SKIPPED,
                        "stopped after a failure",
                    )
                pending.clear()
    result = ChainResult(order, entries, str(repo))
    if any(e.status != BuildStatus.UP_TO_DATE for e in entries.values()):
        # the last chain that did something, for a human or CI to read; a no-op writes nothing
        # (a rerun says the same), and the record is not fsynced (the next chain remakes it)
        write_text(project.state / "chain-last.json", dumps(result), durable=False)
    return result


def chain_error(result: ChainResult, what: str, hint: str) -> Emtk3sError:
    """The error for a failed chain, of the same class (so the same exit code) as the first
    package's failure: `chain`, `all` and `build` agree (mock absent: environment, 6)."""
    first = result.entries[result.failed[0]]
    cls = type(first.exc) if first.exc is not None else BuildError
    logs = [result.entries[n].log for n in result.failed if result.entries[n].log]
    detail = "; ".join(f"{n}: {result.entries[n].error}" for n in result.failed)
    msg = f"{what}: {detail}" + (f"; logs: {', '.join(logs)}" if logs else "")
    return cls(msg, hint)
