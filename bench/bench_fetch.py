"""Parallel vs sequential fetch of N files from a local server (emtk3s.fetch.http.fetch_many).

The server adds a fixed per-request latency (as a remote mirror has), so the figure shows what
parallel downloads buy; both runs use the same code, cache layout and verification, only -j differs.
Run: .venv/bin/python bench/bench_fetch.py [--files 20] [--size 262144] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from common import best_of  # noqa: I001  (adds the repo to sys.path)

from emtk3s.infra.cache import Cache
from emtk3s.infra.http import Download, Policy, fetch_many
from tests.fixtures.upstream import Fault, Upstream


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--size", type=int, default=256 * 1024)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="emtk3s-bench-fetch-"))
    up = Upstream(work / "up").start()
    downloads = []
    for i in range(args.files):
        data = os.urandom(args.size)
        path = f"/owner/repo/releases/download/v1/file-{i}.bin"
        up.files[path] = data
        downloads.append(
            Download(f"file-{i}.bin", up.base + path, hashlib.sha256(data).hexdigest(), len(data))
        )

    def arm_latency() -> None:
        for d in downloads:
            up.faults[d.url.removeprefix(up.base)] = [Fault("stall", times=1, seconds=args.latency)]

    def run(jobs: int) -> None:
        cache_dir = work / f"cache-{jobs}-{time.monotonic_ns()}"
        arm_latency()
        fetch_many(Cache(cache_dir), downloads, Policy(jobs=jobs))  # no handler: silent
        shutil.rmtree(cache_dir)

    seq, seq_med = best_of(args.repeat, lambda: run(1))
    par, par_med = best_of(args.repeat, lambda: run(args.jobs))
    up.stop()
    shutil.rmtree(work)
    mb = args.files * args.size / 1e6
    print(
        f"fetch {args.files} files x {args.size // 1024} KiB ({mb:.1f} MB), {args.latency * 1000:.0f} ms server latency"
    )
    print(f"  sequential (-j 1):  best {seq:.3f} s  median {seq_med:.3f} s")
    print(f"  parallel   (-j {args.jobs}):  best {par:.3f} s  median {par_med:.3f} s")
    print(f"  ratio sequential/parallel: {seq / par:.2f}x faster in parallel")


if __name__ == "__main__":
    main()
