"""Shared pieces of the command line: the context object, error handling, --json output.

Each command module builds its result with a library call and hands it to :func:`run`.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from emtk3s.infra.errors import Emtk3sError, EnvironmentProblem
from emtk3s.infra.jsonout import jsonable
from emtk3s.infra.paths import Project
from emtk3s.model import release as manifest
from emtk3s.stages.context import Options, StageRun

Human = Callable[[dict[str, Any]], None]
R = TypeVar("R")


@dataclass
class Ctx:
    project_dir: Path
    release_file: Path | None
    cache_dir: Path | None
    mirrors: tuple[str, ...]
    json: bool
    debug: bool
    quiet: bool

    def project(self) -> Project:
        return Project.at(self.project_dir, self.cache_dir, self.release_file)

    def release(self, project: Project) -> manifest.Release:
        return manifest.load(project.release_file, manifest.parse_mirror_flags(self.mirrors))

    def stage_run(self, project: Project, options: Options) -> StageRun:
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
    what, hint = _ENV_ERRNOS[exc.errno]
    path = exc.filename if exc.filename is not None else exc.filename2
    where = f"{os.fsdecode(path)}: " if path is not None else ""
    return EnvironmentProblem(f"{where}{what}", hint)


def setup_logging(ctx: Ctx) -> None:
    """The library logs to module loggers (``emtk3s.*``); the command line picks the handler:
    progress lines on stderr, none with -q or --json, everything with --debug."""
    logger = logging.getLogger("emtk3s")
    for h in list(logger.handlers):
        logger.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG if ctx.debug else logging.WARNING if ctx.quiet else logging.INFO)


def emit(ctx: Ctx, command: str, result: R, human: Callable[[R], None]) -> None:
    """--json: one document (the result through the one encoder); else the human lines."""
    if ctx.json:
        doc = {"ok": True, "command": command, "result": jsonable(result)}
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
    elif not ctx.quiet:
        human(result)


def run(command: str, fn: Callable[[Ctx], tuple[R, Callable[[R], None]]]) -> None:
    """Run a command: ``fn`` returns its typed result and how to print it for a human."""
    ctx: Ctx = click.get_current_context().find_object(Ctx)  # type: ignore[assignment]
    try:
        try:
            result, human = fn(ctx)
        except OSError as os_exc:
            mapped = environment_error(os_exc)
            if mapped is None:
                raise
            raise mapped from os_exc
    except Emtk3sError as exc:
        if ctx.debug:
            traceback.print_exc()
        if exc.details and not ctx.json:
            sys.stderr.write(exc.details if exc.details.endswith("\n") else exc.details + "\n")
        if ctx.json:
            err = {
                "category": exc.category,
                "exit_code": exc.exit_code,
                "message": exc.message,
                "hint": exc.hint,
                "details": exc.details,
            }
            doc: dict[str, Any] = {"ok": False, "command": command, "error": err}
            if exc.result is not None:
                doc["result"] = exc.result
            click.echo(json.dumps(doc, indent=2, sort_keys=True))
        click.echo(f"emtk3s {command}: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo(f"emtk3s {command}: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: one line unless --debug
        if ctx.debug:
            raise
        click.echo(
            f"emtk3s {command}: internal error: {type(exc).__name__}: {exc} (rerun with --debug and report it)",
            err=True,
        )
        sys.exit(1)
    emit(ctx, command, result, human)


package_opt = click.option(
    "--package", "-p", "packages", multiple=True, help="Only this package (repeatable)."
)
