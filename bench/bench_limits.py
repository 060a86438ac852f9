"""The machine's physical limits, beside which the other benchmarks' figures are read.

  - sha256: hashlib over 1 GB in memory (what the cache's rehash and the SRPM hash cost), and
    `openssl speed -evp sha256` for the library's own figure;
  - disk: a durable write (`dd bs=1M conv=fdatasync`) and a write into the page cache (`dd`);
  - loopback: `curl -o /dev/null` of a 500 MB file from the benchmarks' sendfile server;
  - start-up: `emtk3s --help` (interpreter, imports, click), what every command pays.
Each figure is the median of --repeat runs.
Run: .venv/bin/python bench/bench_limits.py [--mb 500] [--repeat 5]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import statistics
import subprocess
import sys

from common import MB, ROOT, file_server, random_file, scratch, timed  # noqa: I001


def median_of(repeat: int, fn: object) -> float:
    return statistics.median(timed(fn) for _ in range(repeat))  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    size = args.mb * MB
    data = os.urandom(1 << 20) * 1000  # 1 GiB-ish in memory, 1 MiB updates as the cache does
    view = memoryview(data)

    def hash_all() -> None:
        h = hashlib.sha256()
        for i in range(0, len(data), 1 << 20):
            h.update(view[i : i + (1 << 20)])

    t = median_of(args.repeat, hash_all)
    print(f"sha256 (hashlib, 1 MiB updates): {len(data) / t / 1e9:.2f} GB/s")
    out = subprocess.run(
        ["openssl", "speed", "-evp", "sha256", "-bytes", "16384", "-seconds", "2"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    m = re.search(r"^sha256\s.*?([0-9.]+)k\s*$", out, re.M)
    if m:
        print(f"sha256 (openssl speed, 16 KiB blocks): {float(m.group(1)) * 1000 / 1e9:.2f} GB/s")
    with scratch("limits") as work:
        target = work / "dd.out"
        for label, extra in (("durable (conv=fdatasync)", ["conv=fdatasync"]), ("page cache", [])):

            def dd(extra: list[str] = extra) -> None:
                subprocess.run(
                    ["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={args.mb}", *extra],
                    check=True,
                    capture_output=True,
                )
                target.unlink()

            t = median_of(args.repeat, dd)
            print(f"disk write, {label}: {args.mb * (1 << 20) / t / 1e6:.0f} MB/s")
        served = work / "served"
        random_file(served / "big", size, seed=9)
        with file_server(served) as base:

            def curl() -> None:
                subprocess.run(["curl", "-s", "-f", "-o", "/dev/null", f"{base}/big"], check=True)

            curl()
            t = median_of(args.repeat, curl)
            print(f"loopback (curl -o /dev/null, sendfile server): {size / t / 1e9:.2f} GB/s")
    cmd = [sys.executable, "-m", "emtk3s", "--help"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def helped() -> None:
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT, env=env)

    helped()
    print(f"start-up (emtk3s --help): {median_of(args.repeat * 3, helped) * 1000:.0f} ms")
    print(f"[load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}]")


if __name__ == "__main__":
    main()
