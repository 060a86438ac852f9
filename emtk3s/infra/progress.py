"""What a human sees during long work, in one place for every command.

Builds: one live line per running build (elapsed time and the last line of its log) on a
terminal; on CI (no terminal) a plain line when a build starts and a "still building" line with
the log's last line every ``every`` seconds.

Downloads: on a terminal an overall bar and one line per file in flight with its bytes and
speed; without a terminal (CI logs) a line when a download starts and when it ends.

Both say nothing when the ``emtk3s`` logger is not enabled for INFO (the CLI's -q and --json)."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("emtk3s.fetch")


def _quiet() -> bool:
    """The CLI's choice (-q, --json): the emtk3s logger's level."""
    return not logging.getLogger("emtk3s").isEnabledFor(logging.INFO)


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def every_from_env() -> float:
    """Seconds between "still building" lines without a terminal (EMTK3S_PROGRESS_EVERY)."""
    import os

    try:
        return max(0.5, float(os.environ.get("EMTK3S_PROGRESS_EVERY", "60")))
    except ValueError:
        return 60.0


def last_line(log: Path, limit: int = 4096) -> str:
    """The last non-empty line of a log file (read from its end; a log may be large)."""
    try:
        with open(log, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            data = fh.read().decode(errors="replace")
    except OSError:
        return ""
    for line in reversed(data.splitlines()):
        if line.strip():
            return " ".join(line.split())[:160]
    return ""


def elapsed(seconds: float) -> str:
    s = int(seconds)
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


#: seconds a build runs before its "building:" line is printed (without a terminal)
ANNOUNCE_AFTER = 0.5


@dataclass
class _Running:
    package: str
    log: Path
    start: float
    last_report: float


class BuildProgress:
    """Use as a context manager; ``start(pkg, log)`` / ``stop(pkg)`` from any thread."""

    def __init__(
        self, quiet: bool | None = None, every: float | None = None, tick: float = 0.5
    ) -> None:
        self.quiet = _quiet() if quiet is None else quiet
        every = every_from_env() if every is None else every
        self.every = every
        self.tick = tick
        self.tty = sys.stderr.isatty()
        self._running: dict[str, _Running] = {}
        self._announce: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: Any = None

    def __enter__(self) -> BuildProgress:
        if self.quiet:
            return self
        if self.tty:
            from rich.live import Live

            self._live = Live("", console=_console(), refresh_per_second=4, transient=True)
            self._live.start()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._live is not None:
            self._live.stop()

    def start(self, package: str, log: Path) -> None:
        now = time.monotonic()
        with self._lock:
            self._running[package] = _Running(package, log, now, now)
        if not self.quiet and not self.tty:
            # said only once the build is really running: an up-to-date package is done
            # within a fraction of this, and a no-op prints nothing per package here
            timer = threading.Timer(
                ANNOUNCE_AFTER,
                lambda: print(f"building: {package} (log {log})", file=sys.stderr, flush=True),
            )
            timer.daemon = True
            with self._lock:
                self._announce[package] = timer
            timer.start()

    def stop(self, package: str) -> None:
        with self._lock:
            self._running.pop(package, None)
            timer = self._announce.pop(package, None)
        if timer is not None:
            timer.cancel()

    def lines(self) -> list[str]:
        now = time.monotonic()
        with self._lock:
            running = sorted(self._running.values(), key=lambda r: r.start)
        return [
            f"building {r.package:22} {elapsed(now - r.start):>8}  {last_line(r.log)}"
            for r in running
        ]

    def _loop(self) -> None:
        while not self._done.wait(self.tick):
            if self._live is not None:
                from rich.text import Text

                self._live.update(Text("\n".join(self.lines())))
                continue
            now = time.monotonic()
            with self._lock:
                due = [r for r in self._running.values() if now - r.last_report >= self.every]
                for r in due:
                    r.last_report = now
            for r in due:
                print(
                    f"still building: {r.package} ({elapsed(now - r.start)}): {last_line(r.log)}",
                    file=sys.stderr,
                    flush=True,
                )


def _amount_columns() -> tuple[Any, Any]:
    """rich columns that show a task's amount in its own unit: ``3/4 files`` for the overall
    line, bytes and bytes per second for a file's line."""
    from rich.progress import DownloadColumn, ProgressColumn, Task, TransferSpeedColumn
    from rich.text import Text

    class Amount(ProgressColumn):
        def __init__(self) -> None:
            super().__init__()
            self.bytes = DownloadColumn()

        def render(self, task: Task) -> Any:
            if task.fields.get("files"):
                return Text(f"{int(task.completed)}/{int(task.total or 0)} files")
            return self.bytes.render(task)

    class Speed(ProgressColumn):
        def __init__(self) -> None:
            super().__init__()
            self.speed = TransferSpeedColumn()

        def render(self, task: Task) -> Any:
            return Text("") if task.fields.get("files") else self.speed.render(task)

    return Amount(), Speed()


class FetchProgress:
    """Progress of a set of downloads; every method may be called from any thread."""

    def __init__(self, total: int) -> None:
        self.quiet = _quiet()
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}
        self.lock = threading.Lock()
        if not self.quiet and sys.stderr.isatty():
            from rich.progress import BarColumn, Progress, TextColumn

            amount, speed = _amount_columns()
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                amount,
                speed,
                console=_console(),
                transient=True,
            )
            self.bar.start()
            # the overall line counts files, each file's line its bytes: each says its unit
            self.task = self.bar.add_task("fetch", total=total, files=True)

    def begin(self, name: str, size: int | None, have: int) -> None:
        if self.quiet:
            return
        if self.bar is None:
            sized = f" ({size} bytes)" if size else ""
            resumed = f", resuming at {have}" if have else ""
            log.info("fetch: downloading %s%s%s", name, sized, resumed)
            return
        with self.lock:
            if name not in self.tasks:
                self.tasks[name] = self.bar.add_task(f"  {name}", total=size)
            self.bar.update(self.tasks[name], completed=have)

    def bytes_for(self, name: str) -> Callable[[int], None] | None:
        if self.bar is None:
            return None
        bar, task = self.bar, self.tasks.get(name)
        if task is None:
            return None
        return lambda n: bar.update(task, advance=n)

    def done(self, name: str, size: int, sha256: str, downloaded: bool) -> None:
        if self.bar is not None:
            with self.lock:
                task = self.tasks.pop(name, None)
            if task is not None:
                self.bar.remove_task(task)
            self.bar.update(self.task, advance=1)
        elif not self.quiet and downloaded:  # a cache hit is not news (a no-op is quiet)
            log.info("fetch: downloaded %s %s bytes sha256 %s", name, size, sha256)

    def log(self, line: str) -> None:
        if not self.quiet:
            (self.bar.console.print if self.bar is not None else log.info)(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
