"""Shared bits of the benchmarks: a local upstream on 127.0.0.1 and a timer."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def best_of(n: int, fn: Callable[[], object]) -> tuple[float, float]:
    """(best, median) wall time in seconds over n runs."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)
