"""Shared pieces of the command line: the context object, error handling, --json output.

Each command module builds its result with a library call and hands it to :func:`run`.

The contract CI relies on (docs/cli.md):
- with ``--json`` exactly one JSON document is printed on stdout for every outcome: success,
  a documented error, a usage error, an internal error, Ctrl-C;
- the exit code names the outcome (:mod:`emtk3s.infra.errors`);
- global options may stand before or after the subcommand;
- Ctrl-C stops within a second (a stalled download included), a second Ctrl-C kills at once.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:  # imported when a command runs, not for --help
    from emtk3s.infra.errors import Emtk3sError, EnvironmentProblem
    from emtk3s.infra.paths import Project
    from emtk3s.model.lock import Lock
    from emtk3s.model.package import Catalog
    from emtk3s.model.release import Release
    from emtk3s.stages.context import Options, StageRun

Human = Callable[[dict[str, Any]], None]
R = TypeVar("R")

#: options of the top-level group, accepted after the subcommand as well
GLOBAL_FLAGS = ("--json", "--debug", "-q", "--quiet")
GLOBAL_VALUED = ("-C", "--project", "--release", "--cache", "--mirror")
RELEASE_FILE = "release.toml"
INTERRUPT_GRACE = 0.8  # seconds between the first Ctrl-C and a forced exit


class Ctx:
    """The global options of a run (a plain class: the dataclass machinery is start-up time
    every command, --help included, would pay)."""

    def __init__(
        self,
        project_dir: Path | None,  # None: search release.toml from the working directory upwards
        release_file: Path | None,
        cache_dir: Path | None,
        mirrors: tuple[str, ...],
        json: bool,
        debug: bool,
        quiet: bool,
        verify: bool = False,  # --verify: rehash every cached source and output, trust no record
    ) -> None:
        self.project_dir = project_dir
        self.release_file = release_file
        self.cache_dir = cache_dir
        self.mirrors = mirrors
        self.json = json
        self.debug = debug
        self.quiet = quiet
        self.verify = verify
        self.env_checked = False  # unknown EMTK3S_ variables were warned about

    def root(self) -> Path:
        if self.project_dir is not None:
            return self.project_dir
        if self.release_file is not None:
            return Path(".")
        return find_project(Path.cwd())

    def project(self) -> Project:
        from emtk3s.infra.paths import Project

        p = Project.at(self.root(), self.cache_dir, self.release_file)
        if self.verify:
            p.cache.verify = True
        return p

    def catalog(self) -> Catalog:
        from emtk3s import catalog

        return catalog.load()

    def mirror_flags(self) -> dict[str, str]:
        """The --mirror NAME=URL options, checked against the catalog's mirror names."""
        from emtk3s.model import release

        return release.parse_mirror_flags(self.mirrors, self.catalog())

    def release(self, project: Project) -> Release:
        from emtk3s.model import release

        if not self.env_checked:  # once per command, on stderr (stdout stays one document)
            self.env_checked = True
            for warning in release.unknown_env(os.environ, self.catalog()):
                click.echo(f"warning: {warning}", err=True)
        return release.load(project.release_file, self.catalog(), self.mirror_flags())

    def lock(self, project: Project) -> Lock:
        """The project's lock (a PreconditionError when there is none)."""
        from emtk3s.model import lock

        return lock.require(project.lock_file, self.catalog().mirrors)

    def stage_run(self, project: Project, options: Options) -> StageRun:
        from emtk3s.stages.context import StageRun

        return StageRun(project, self.release(project), options)


#: errno -> (what happened, how to fix it): the machine, not emtk3s, refuses a write
_ENV_ERRNOS = {
    errno.ENOSPC: ("no space left on device", "free disk space and run again"),
    errno.EDQUOT: ("disk quota exceeded", "free space within the quota and run again"),
    errno.EROFS: (
        "read-only file system",
        "make it writable, or point emtk3s elsewhere (-C DIR, EMTK3S_CACHE)",
    ),
    errno.EACCES: ("permission denied", "fix the permissions or run as the owner"),
    errno.EPERM: ("operation not permitted", "fix the permissions or run as the owner"),
}


def environment_error(exc: OSError) -> EnvironmentProblem | None:
    """A disk-full, read-only or permission error, as exit 6 naming the path (None: a bug)."""
    if exc.errno not in _ENV_ERRNOS:
        return None
    from emtk3s.infra.errors import EnvironmentProblem

    what, hint = _ENV_ERRNOS[exc.errno]
    path = exc.filename if exc.filename is not None else exc.filename2
    where = f"{os.fsdecode(path)}: " if path is not None else ""
    return EnvironmentProblem(f"{where}{what}", hint)


def setup_logging(ctx: Ctx) -> None:
    """The library logs to module loggers (``emtk3s.*``); the command line picks the handler:
    progress lines on stderr, none with -q or --json, everything with --debug. Called by
    :func:`run` before the command's library call."""
    import logging

    logger = logging.getLogger("emtk3s")
    for h in list(logger.handlers):
        logger.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG if ctx.debug else logging.WARNING if ctx.quiet else logging.INFO)


def find_project(start: Path) -> Path:
    """The nearest directory from ``start`` upwards that holds release.toml (as git and cargo
    find their roots)."""
    from emtk3s.infra.errors import InputError

    start = start.resolve()
    for d in (start, *start.parents):
        if (d / RELEASE_FILE).is_file():
            return d
    raise InputError(
        f"no {RELEASE_FILE} in {start} or any parent directory",
        "run in a project directory, or name it with -C DIR (or --release FILE)",
    )


# --- one document on stdout -------------------------------------------------------------------

_doc_lock = threading.Lock()
_state: dict[str, Any] = {"command": "emtk3s", "json": False, "printed": False}


def _print_once(text: str) -> bool:
    """Print the run's one stdout document; False if one was printed already."""
    with _doc_lock:
        if _state["printed"]:
            return False
        _state["printed"] = True
    click.echo(text)
    sys.stdout.flush()
    return True


def error_doc(
    command: str,
    category: str,
    exit_code: int,
    message: str,
    hint: str = "",
    details: str = "",
    result: Any = None,
) -> str:
    import json

    from emtk3s.infra.jsonout import jsonable

    err = {
        "category": category,
        "exit_code": exit_code,
        "message": message,
        "hint": hint,
        "details": details,
    }
    doc: dict[str, Any] = {"ok": False, "command": command, "error": err}
    if result is not None:
        doc["result"] = jsonable(result)
    return json.dumps(doc, indent=2, sort_keys=True)


def emit(ctx: Ctx, command: str, result: R, human: Callable[[R], None], status: int = 0) -> None:
    """--json: one document (the result through the one encoder); else the human lines. A
    non-zero ``status`` is a success that automation must tell apart (check-updates' 100)."""
    if ctx.json:
        import json

        from emtk3s.infra.jsonout import jsonable

        doc: dict[str, Any] = {"ok": True, "command": command, "result": jsonable(result)}
        if status:
            doc["exit_code"] = status
        _print_once(json.dumps(doc, indent=2, sort_keys=True))
    elif not ctx.quiet:
        human(result)


def _interrupted_exit() -> NoReturn:
    command = _state["command"]
    if _state["json"]:
        _print_once(
            error_doc(
                command,
                "interrupted",
                130,
                "interrupted (Ctrl-C)",
                "run the command again; finished work is kept and skipped",
            )
        )
    sys.stderr.write(f"emtk3s {command}: interrupted\n")
    sys.stderr.flush()
    # children of worker threads too (os._exit runs no atexit); children are only ever started
    # through emtk3s.infra.procs, so when it was never loaded there are none (and importing
    # here, in a signal handler or timer thread, could wait on the import lock)
    procs = sys.modules.get("emtk3s.infra.procs")
    if procs is not None:
        procs.kill_all()
    os._exit(130)  # worker threads (a stalled download) must not hold the exit


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    if _state.get("interrupted"):
        _interrupted_exit()  # second Ctrl-C: at once
    _state["interrupted"] = True
    timer = threading.Timer(INTERRUPT_GRACE, _interrupted_exit)
    timer.daemon = True
    timer.start()
    raise KeyboardInterrupt


def install_signal_handlers() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)
        signal.signal(signal.SIGTERM, _on_sigint)


def _emtk3s_error() -> type[Emtk3sError]:
    """The errors' base class, imported when one is to be told apart (a run that raised)."""
    from emtk3s.infra.errors import Emtk3sError

    return Emtk3sError


def run(
    command: str,
    fn: Callable[[Ctx], tuple[R, Callable[[R], None]]],
    status: Callable[[R], int] | None = None,
    log: bool = True,
) -> None:
    """Run a command: ``fn`` returns its typed result and how to print it for a human;
    ``status`` maps a successful result to its exit code (0 unless the command documents
    another, as check-updates' 100 for "updates available", dnf's convention). ``log``: set
    up the log handler first (False: ``fn`` calls :func:`setup_logging` itself before any
    library call, as ``all`` does after answering a no-op from its memo)."""
    ctx: Ctx = click.get_current_context().find_object(Ctx)  # type: ignore[assignment]
    if log:
        setup_logging(ctx)
    _state["command"] = command
    _state["json"] = ctx.json
    try:
        try:
            result, human = fn(ctx)
        except OSError as os_exc:
            mapped = environment_error(os_exc)
            if mapped is None:
                raise
            raise mapped from os_exc
    except _emtk3s_error() as exc:  # evaluated only when something was raised
        if ctx.debug:
            import traceback

            traceback.print_exc()
        if exc.details and not ctx.json:
            sys.stderr.write(exc.details if exc.details.endswith("\n") else exc.details + "\n")
        if ctx.json:
            _print_once(
                error_doc(
                    command,
                    exc.category,
                    exc.exit_code,
                    exc.message,
                    exc.hint,
                    exc.details,
                    exc.result,
                )
            )
        click.echo(f"emtk3s {command}: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _interrupted_exit()
    except Exception as exc:  # a bug: one line unless --debug
        if ctx.debug:
            import traceback

            traceback.print_exc()
        msg = f"internal error: {type(exc).__name__}: {exc}"
        if ctx.json:
            _print_once(error_doc(command, "internal", 1, msg, "rerun with --debug and report it"))
        click.echo(f"emtk3s {command}: {msg} (rerun with --debug and report it)", err=True)
        sys.exit(1)
    code = status(result) if status is not None else 0
    emit(ctx, command, result, human, code)
    if code:
        sys.stdout.flush()
        sys.exit(code)


# --- the group: global options anywhere, did-you-mean, usage errors as JSON --------------------


def hoist_globals(args: Sequence[str]) -> list[str]:
    """Move global options that follow the subcommand in front of it (``show k3s --json``)."""
    args = list(args)
    head: list[str] = []
    i = 0
    while i < len(args):  # the global options before the subcommand
        a = args[i]
        if a in GLOBAL_VALUED and i + 1 < len(args):
            head += args[i : i + 2]
            i += 2
        elif a.startswith("-") and a != "--":
            head.append(a)
            i += 1
        else:
            break
    rest = args[i:]
    moved: list[str] = []
    tail: list[str] = []
    j = 0
    while j < len(rest):
        a = rest[j]
        if a == "--":
            tail += rest[j:]
            break
        if a in GLOBAL_FLAGS:
            moved.append(a)
        elif a in GLOBAL_VALUED and j + 1 < len(rest):
            moved += rest[j : j + 2]
            j += 1
        elif any(a.startswith(o + "=") for o in GLOBAL_VALUED if o.startswith("--")):
            moved.append(a)
        else:
            tail.append(a)
        j += 1
    return head + moved + tail


def _wants_json(args: Sequence[str]) -> bool:
    return "--json" in args[: args.index("--")] if "--" in args else "--json" in args


def _command_words(args: Sequence[str]) -> str:
    words, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in GLOBAL_VALUED:
            skip = True
        elif a.startswith("-"):
            continue
        else:
            words.append(a)
            if len(words) == 2:
                break
    return " ".join(words) or "emtk3s"


class Group(click.Group):
    """click.Group with did-you-mean for commands (click suggests options itself)."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise click.UsageError(f"No such command {name!r}.{hint}", ctx)
        return super().resolve_command(ctx, args)


class MainGroup(Group):
    """The top-level group: commands loaded lazily from ``lazy`` (name -> (module under
    emtk3s.cli.commands, help)); ``--help`` lists them from that table without importing one."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        import importlib

        module = importlib.import_module(f"emtk3s.cli.commands.{self.lazy[cmd_name][0]}")
        command: click.Command = module.command
        self.commands[cmd_name] = command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in self.lazy:
                text = click.Command(name, help=self.lazy[name][1]).get_short_help_str(limit)
            else:
                text = self.commands[name].get_short_help_str(limit)
            rows.append((name, text))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = hoist_globals(sys.argv[1:] if args is None else args)
        as_json = _wants_json(argv)
        _state["json"] = as_json
        _state["command"] = _command_words(argv)
        install_signal_handlers()
        words = argv[: argv.index("--")] if "--" in argv else argv
        if as_json and ({"--help", "-h", "--version"} & set(words)):
            sys.exit(self._json_info(argv, prog_name or "emtk3s", "--version" in words))
        try:
            rv = super().main(argv, prog_name or "emtk3s", complete_var, False, **extra)
        except click.ClickException as exc:
            command = _state["command"]
            where = getattr(exc, "ctx", None)  # usage errors know the command they are about
            helpcmd = f"{where.command_path if where is not None else 'emtk3s'} --help"
            if as_json:
                _print_once(
                    error_doc(command, "usage", exc.exit_code, exc.format_message(), helpcmd)
                )
            # one line, as every other error (click's own form takes three)
            who = "emtk3s" if command == "emtk3s" else f"emtk3s {command}"
            click.echo(f"{who}: error: {exc.format_message()} (see {helpcmd})", err=True)
            sys.exit(exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            _interrupted_exit()
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)

    def _json_info(self, argv: list[str], prog_name: str, version: bool) -> int:
        """--json with --help or --version: the same text, as one JSON document."""
        import contextlib
        import io
        import json

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            try:
                rv = super().main(argv, prog_name, None, False)
            except click.ClickException as exc:
                _print_once(
                    error_doc(_state["command"], "usage", exc.exit_code, exc.format_message())
                )
                return exc.exit_code
        code = rv if isinstance(rv, int) else 0
        text = buf.getvalue()
        if version:
            from emtk3s import __version__

            result: dict[str, Any] = {"version": __version__, "text": text}
            command = "version"
        else:
            result = {"help": text}
            command = _state["command"]
        _print_once(json.dumps({"ok": True, "command": command, "result": result}, indent=2))
        return code


def table(rows: list[list[str]]) -> None:
    """Rows in columns as wide as their widest cell (names of any length stay aligned)."""
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)] + [r[-1]]
        click.echo("  ".join(cells).rstrip())


class MirrorOption(click.Option):
    """--mirror, whose help names every mirror the packages declare, looked up only when the
    help is shown (start-up reads no package)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from emtk3s import catalog

        self.help = (
            f"Override an upstream base URL: {', '.join(sorted(catalog.mirrors()))} "
            "(env EMTK3S_MIRROR_<NAME>)."
        )
        return super().get_help_record(ctx)


package_opt = click.option(
    "--package", "-p", "packages", multiple=True, help="Only this package (repeatable)."
)

date_opt = click.option(
    "--date",
    metavar="YYYY-MM-DD",
    help="Date of a new changelog entry (default: SOURCE_DATE_EPOCH, else derived from the inputs).",
)
