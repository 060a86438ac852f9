"""emtk3s all: the stages in order, skipping what is up to date.

A run that changed nothing leaves a memo (:mod:`emtk3s.infra.runmemo`) in
``.emtk3s/memo/all``: what it printed and the identity of every file and listing its outcome
rested on (the project's inputs, outputs and stamps, the cached sources it trusted, emtk3s'
own code, the directories on PATH and of installed modules). While they and the command's
options and environment are unchanged, the next ``all`` prints the memo's lines without
importing a stage: a no-op costs little more than ``emtk3s --help``. A run that did work runs
the stages a second time in the same process (every module loaded: cheap) to record the memo,
so that the no-op after it writes nothing either.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from emtk3s.cli.runner import Ctx, date_opt, package_opt, run, setup_logging

if TYPE_CHECKING:  # the stages are imported when there is work, not for a memo's no-op
    from emtk3s.infra.cache import Cache
    from emtk3s.stages import build, render, resolve, srpm, validate
    from emtk3s.stages import fetch as fetch_stage
    from emtk3s.stages.all import AllResult
    from emtk3s.stages.context import Options

#: emtk3s.stages.all.STAGES, spelled out so that parsing --until imports no stage
#: (tests/unit/test_runmemo.py checks that the two agree)
STAGES = ("resolve", "fetch", "render", "license", "validate", "srpm", "build")


@click.command("all")
@package_opt
@click.option("--offline", is_flag=True, help="No network: go as far as the lock and cache allow.")
@click.option("--locked", is_flag=True, help="Fail if the lock would change.")
@click.option("--nodeps", is_flag=True, help="Do not check BuildRequires (non-RPM hosts).")
@click.option("--until", type=click.Choice(STAGES), default="build", show_default=True)
@click.option(
    "-j",
    "--jobs",
    default=8,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Parallel downloads.",
)
@click.option(
    "--backend",
    type=click.Choice(["rpmbuild", "chroot", "mock"]),
    default="rpmbuild",
    show_default=True,
)
@click.option(
    "--chroot",
    "chroot",
    type=click.Path(path_type=Path),
    help="Worker chroot: a directory or a tarball.",
)
@click.option("--mock-repo", help="mock backend: the EMT package repository URL.")
@click.option(
    "--keep-other-backend",
    is_flag=True,
    help="Keep RPMs another backend made of the same SRPM (default: this backend rebuilds them).",
)
@date_opt
def all_cmd(
    packages: tuple[str, ...],
    offline: bool,
    locked: bool,
    nodeps: bool,
    until: str,
    jobs: int,
    backend: str,
    chroot: Path | None,
    mock_repo: str | None,
    keep_other_backend: bool,
    date: str | None,
) -> None:
    """Run the chain; stages whose inputs did not change are skipped."""

    def go(ctx: Ctx) -> tuple[Any, Callable[[Any], None]]:
        memo = None
        if not (ctx.verify or ctx.debug or locked or chroot or backend != "rpmbuild"):
            if until == "build":
                options = (packages, offline, nodeps, jobs, backend, mock_repo, keep_other_backend)
                memo = Memo(ctx, [repr(options), date or ""])
        if memo is not None and not ctx.json:
            lines = memo.replay()
            if lines is not None:
                return lines, _echo_lines
        return _run(ctx, memo)

    def _run(ctx: Ctx, memo: Memo | None) -> tuple[AllResult, Callable[[AllResult], None]]:
        from emtk3s.infra.http import Policy
        from emtk3s.stages.all import run_all
        from emtk3s.stages.context import Options

        setup_logging(ctx)
        p = ctx.project()
        opts = Options(
            packages=packages,
            offline=offline,
            locked=locked,
            nodeps=nodeps,
            policy=Policy(jobs=jobs),
            backend=backend,
            chroot=chroot,
            mock_repo=mock_repo,
            keep_other_backend=keep_other_backend,
            date=date,
        )
        before = memo.snapshot() if memo is not None else None
        with _stderr_tally() as tally:
            r = run_all(ctx.stage_run(p, opts), until=until)
        if memo is not None and before is not None:
            if r.changed_nothing():
                if not tally.written:
                    memo.record(before, r, p.cache)
            elif r.finished == list(STAGES) and not r.stopped and not r.needs_network:
                _record_second_pass(ctx, memo, opts)
        if r.needs_network and until == "build":
            from emtk3s.infra.errors import NeedsNetwork
            from emtk3s.infra.jsonout import jsonable

            b = r.stages.get("build")
            built = [e.package for e in b.builds] if b is not None else []
            err = NeedsNetwork(
                f"stopped: needs network: {', '.join(r.needs_network)} cannot be built offline"
                + (f" ({len(built)} other(s) built)" if built else " (nothing built)"),
                "run emtk3s all with network access or a mirror (EMTK3S_MIRROR_<NAME>)",
            )
            doc = jsonable(r)
            assert isinstance(doc, dict)
            err.result = doc | {"stopped": "needs network", "detail": r.stopped}
            raise err

        def human(r: AllResult) -> None:
            for line in summary(r):
                click.echo(line)

        return r, human

    run("all", go, log=False)


def _echo_lines(lines: list[str]) -> None:
    for line in lines:
        click.echo(line)


def _record_second_pass(ctx: Ctx, memo: Memo, opts: Options) -> None:
    """After a run that did work: run the stages again (a no-op when the first run left
    everything up to date, which is what the next run would find) and keep its memo. Any
    failure here only means no memo: the run itself succeeded."""
    from emtk3s.model import release
    from emtk3s.stages.all import run_all

    if release.unknown_env(os.environ, ctx.catalog()):
        return  # a fresh run warns about them on stderr: the memo could not say so
    try:
        p = ctx.project()
        before = memo.snapshot()
        with _stderr_tally() as tally:
            r = run_all(ctx.stage_run(p, opts))
    except Exception:  # noqa: BLE001 - the command's own run succeeded; this only skips a memo
        return
    if r.changed_nothing() and not tally.written:
        memo.record(before, r, p.cache)


class _Tally:
    """sys.stderr, counting what is written through it."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.written = 0

    def write(self, text: str) -> int:
        self.written += len(text)
        return int(self.stream.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextmanager
def _stderr_tally() -> Iterator[_Tally]:
    """Count what a run writes on stderr (click's echo, warnings and the emtk3s log handler):
    a run that said anything there is not one a memo can replay."""
    import logging

    old = sys.stderr
    tally = _Tally(old)
    handlers = [
        h
        for h in logging.getLogger("emtk3s").handlers
        if isinstance(h, logging.StreamHandler) and h.stream is old
    ]
    sys.stderr = tally
    for h in handlers:
        h.setStream(tally)
    try:
        yield tally
    finally:
        sys.stderr = old
        for h in handlers:
            h.setStream(old)


#: environment variables that differ between two runs of the same command and that nothing
#: emtk3s runs reads: the shell's last command and directories, its depth, and the phase of the
#: test pytest is running. Every other variable is in the memo's key.
_VOLATILE_ENV = frozenset({"_", "OLDPWD", "PWD", "SHLVL", "PYTEST_CURRENT_TEST"})


class Memo:
    """The memo of a no-op ``all`` in a project, and what it covers."""

    def __init__(self, ctx: Ctx, options: list[str]) -> None:
        import emtk3s

        self.root = os.path.realpath(ctx.root())
        self.file = os.path.join(self.root, ".emtk3s", "memo", "all")
        state = os.path.join(self.root, ".emtk3s")
        code = os.path.dirname(os.path.realpath(emtk3s.__file__))  # emtk3s' code and data
        self.trees = [
            *(os.path.join(self.root, d) for d in ("SPECS", "SRPMS", "RPMS", "templates")),
            state,
            code,
        ]
        self.listings = [self.root]  # release.toml, the lock, changelog.json, what else is there
        # state written by the stages' work, never read by an up-to-date run: not covered
        self.skip = [os.path.join(state, d) for d in ("memo", "work", "logs", "locks")]
        release_file = os.path.realpath(ctx.release_file) if ctx.release_file else ""
        # the directories of PATH (a tool appearing or going: licensecheck, rpmbuild) and of
        # the installed modules (an upgraded dependency), by their own identity
        path_dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
        module_dirs = [d for d in sys.path if d and os.path.isdir(d)]
        self.files = [*([release_file] if release_file else []), *path_dirs, *module_dirs]
        env = sorted(f"{k}={v}" for k, v in os.environ.items() if k not in _VOLATILE_ENV)
        cache = os.path.realpath(ctx.cache_dir) if ctx.cache_dir else ""
        self.key = _digest(
            [
                emtk3s.__version__,
                code,
                sys.version,
                sys.executable,
                f"{os.getuid()}:{os.getgid()}",
                _boot_id(),
                self.root,
                release_file,
                cache,
                repr(ctx.mirrors),
                *options,
                *env,
            ]
        )

    def replay(self) -> list[str] | None:
        from emtk3s.infra import runmemo

        return runmemo.replay(self.file, self.key)

    def snapshot(self) -> list[str]:
        from emtk3s.infra import runmemo

        return runmemo.snapshot(self.trees, self.listings, self.files, self.skip)

    def record(self, before: list[str], r: AllResult, cache: Cache) -> None:
        """Keep the memo of the no-op ``r``, whose run started when ``before`` was taken: if
        nothing it covers changed meanwhile and every cached source it used is still the file
        it trusted."""
        from emtk3s.infra import runmemo
        from emtk3s.infra.cache import stat_record

        from_cache: list[str] = []
        for sha, trusted in sorted(cache.consulted.items()):
            blob = cache.blob_path(sha)
            if trusted is None or stat_record(blob) != trusted:
                return
            from_cache.append(str(blob))
        if from_cache:  # and the records that vouched for them
            from_cache.append(str(cache.records_path))
        files = [*self.files, *from_cache]
        paths = [*self.trees, *self.listings, *files, *self.skip]
        if not runmemo.recordable(paths):
            return
        after = runmemo.snapshot(self.trees, self.listings, files, self.skip)
        if after[: len(before)] != before:
            return  # something changed while the stages ran: this run proves nothing
        text = runmemo.render(
            self.key, summary(r), self.trees, self.listings, files, self.skip, after
        )
        try:
            runmemo.write(self.file, text)
        except OSError:  # a read-only project, a full disk: the next run is a full one
            pass


def _digest(parts: list[str]) -> str:
    from emtk3s.infra.runmemo import digest

    return digest(parts)


def _boot_id() -> str:
    """This boot's id: stat records sealed to it hold only in it (emtk3s.infra.cache)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", "rb") as fh:
            return fh.read().decode("ascii", "replace").strip()
    except OSError:
        return ""


def summary(r: AllResult) -> list[str]:
    """What an ``all`` run did: a line per stage that changed something, then one line per
    package (its SRPM, its RPMs and the backend that made them). A no-op prints one line per
    package and nothing else."""
    st = r.stages
    lines = []
    res: resolve.ResolveResult = st["resolve"]
    if res.changed or res.network:
        lines.append(
            f"resolve:  {res.k3s} lock {'updated' if res.changed else 'unchanged'}"
            f"{' (upstream contacted)' if res.network else ''}"
        )
    f: fetch_stage.FetchResult | None = st.get("fetch")
    if f is not None and (f.downloaded or f.missing or f.generated or f.pinned):
        lines.append(
            f"fetch:    {f.downloaded} downloaded, {f.cached} cached, {len(f.missing)} missing"
            + (f", {len(f.pinned)} pinned" if f.pinned else "")
        )
    rr: render.RenderResult | None = st.get("render")
    if rr is not None and rr.written:
        lines.append(f"render:   {', '.join(rr.written)} -> {r.outputs['specs']}")
    lic = st.get("license")  # emtk3s.stages.license.LicenseStageResult
    if lic is not None and lic.changelog_changed:
        lines.append(f"license:  {', '.join(lic.changelog_changed)} changelog updated")
    # an unverified License: tag is said on its package's line (a no-op stays one line each)
    unverified = dict(lic.unverified) if lic is not None else {}
    v: validate.LintResult | None = st.get("validate")
    if v is not None and v.checked:
        lines.append(f"validate: {', '.join(v.checked)} (rpmspec -P, rpmlint)")
        lines += v.license_notes()
    srpms: srpm.SrpmResult | None = st.get("srpm")
    built: build.BuildResult | None = st.get("build")
    by_pkg = {b.package: b for b in built.builds} if built is not None else {}
    infos = srpms.srpms if srpms is not None else []
    rows = []
    for s in infos:
        row = [s.package, s.nevr.removeprefix(s.package + "-"), "srpm"]
        row[2] += " up to date" if s.skipped else " built"
        b = by_pkg.get(s.package)
        if b is not None:
            n = len(b.rpms)
            row[2] += f", {n} rpm{'s' if n != 1 else ''} {b.status} ({b.backend or 'rpmbuild'})"
        rows.append(row)
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
    for row in rows:
        cells = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        line = f"{cells}  -> {r.outputs['rpms'] if built else r.outputs['srpms']}"
        why = unverified.pop(row[0], None)
        lines.append(line + (f"; license not verified: {why}" if why else ""))
    lines += [f"license:  {p} not verified: {why}" for p, why in unverified.items()]
    if r.stopped:
        lines.append(f"stopped:  {r.stopped}")
    return lines


command = all_cmd
