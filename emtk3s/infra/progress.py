"""What a human sees during long work: one live line per running build (elapsed time and the
last line of its log) on a terminal; on CI (no terminal) a plain line when a build starts and a
"still building" line with the log's last line every ``every`` seconds."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
        if quiet is None:  # the CLI's choice (-q, --json): the emtk3s logger's level
            import logging

            quiet = not logging.getLogger("emtk3s").isEnabledFor(logging.INFO)
        self.quiet = quiet
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
            from rich.console import Console
            from rich.live import Live

            self._live = Live(
                "", console=Console(stderr=True), refresh_per_second=4, transient=True
            )
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
