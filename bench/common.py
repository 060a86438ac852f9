"""Shared bits of the benchmarks: paired timing, honest statistics, data at real size.

Every benchmark runs its two sides alternately (A B A B ...), so a change in machine load hits
both alike, and reports min and median of each side and the ratio of the medians. Data is made
in a scratch directory under /var/tmp (a disk, not tmpfs) and removed at the end. The machine
is shared: the load average is printed before and after each benchmark.
"""

from __future__ import annotations

import http.server
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# a child run on another revision's code (baseline_tree): that emtk3s comes first
if os.environ.get("EMTK3S_BENCH_CODE"):
    sys.path.insert(0, os.environ["EMTK3S_BENCH_CODE"])

SCRATCH = Path(os.environ.get("EMTK3S_BENCH_DIR", "/var/tmp"))
GB = 1_000_000_000
MB = 1_000_000


@dataclass
class Stats:
    times: list[float]

    @property
    def min(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def __str__(self) -> str:
        return f"min {fmt(self.min)}  median {fmt(self.median)}  (n={len(self.times)})"


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def paired(n: int, *sides: Callable[[], object]) -> list[Stats]:
    """Run the sides alternately n times each; Stats per side."""
    out: list[list[float]] = [[] for _ in sides]
    for _ in range(n):
        for i, fn in enumerate(sides):
            out[i].append(timed(fn))
    return [Stats(t) for t in out]


def report(title: str, rows: list[tuple[str, Stats]], note: str = "") -> None:
    """Print each side and the ratio of its median to the last row's (the alternative)."""
    base = rows[-1][1].median
    print(title)
    width = max(len(label) for label, _ in rows)
    for label, st in rows:
        print(f"  {label:<{width}}  {st}  ratio {st.median / base:.2f}x")
    if note:
        print(f"  {note}")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


@contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    SCRATCH.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"emtk3s-bench-{prefix}-", dir=SCRATCH))
    print(f"[{load()}; scratch {work}]")
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)
        print(f"[{load()}]")


def baseline_tree(work: Path, rev: str) -> Path:
    """The ``emtk3s`` package as of git revision ``rev``, exported under ``work``: a child run
    with PYTHONPATH set to the returned directory imports that code instead of this tree's
    (the "today's" side of a before/after pair measured in one run)."""
    import subprocess

    dest = work / f"baseline-{rev}"
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "emtk3s"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def child_env(pythonpath: Path | None) -> dict[str, str]:
    """The environment of a child benchmark run on another tree's code (None: this tree)."""
    env = dict(os.environ)
    env.pop("EMTK3S_BENCH_CODE", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
        env["EMTK3S_BENCH_CODE"] = str(pythonpath)
    else:
        env.pop("PYTHONPATH", None)
    return env


def random_file(path: Path, size: int, seed: int) -> None:
    """Incompressible bytes, as a compressed source tarball is."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        left = size
        while left:
            n = min(left, 8 << 20)
            fh.write(rng.randbytes(n))
            left -= n


def sizes(total: int, count: int, seed: int = 1) -> list[int]:
    """``count`` file sizes summing to ``total``, skewed as a real source set is (a few large
    tarballs, many small ones)."""
    rng = random.Random(seed)
    weights = [rng.paretovariate(1.2) for _ in range(count)]
    scale = total / sum(weights)
    out = [max(1, int(w * scale)) for w in weights]
    out[0] += total - sum(out)
    return out


_WORDS = (
    "func return if err nil range for struct interface type package import var const map "
    "string int64 uint32 byte error context ctx opts config client server request response "
    "handler buf len append make go defer select case chan switch default fmt errors sync "
    "Mutex Lock Unlock New Get Set Close Read Write Marshal Unmarshal json yaml proto"
).split()


def go_tree(root: Path, total: int, files: int, seed: int = 2) -> int:
    """A Go-vendor-like tree: ``files`` source files in module/package directories, ``total``
    bytes of Go-like text drawn from 50k distinct lines, so it compresses like real Go code
    (gzip -9 about 4:1), not like one repeated line. Returns the bytes written."""
    rng = random.Random(seed)
    pool = [
        "\t"
        + " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 12)))
        + f" x{rng.randint(0, 9999)} // {rng.randint(0, 1 << 30):x}\n"
        for _ in range(50_000)
    ]
    avg = sum(map(len, pool)) / len(pool)
    per = max(1, int(total / files / avg))
    written = 0
    for i in range(files):
        d = root / f"github.com/org{i % 97}/mod{i % 389}/pkg{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        n = max(1, int(per * rng.uniform(0.3, 1.7)))
        data = (f"package pkg{i % 7}\n\n" + "".join(rng.choices(pool, k=n))).encode()
        (d / f"file{i}.go").write_bytes(data)
        written += len(data)
    return written


class _SendfileHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory with sendfile(2), so the server is not what a download bench measures."""

    # keep-alive, as a real mirror: a client that reuses its connections gains from it
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm holds
        # the second until the client's delayed ACK (40 ms a request on a reused connection)
        import socket

        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args: object) -> None:
        pass

    def copyfile(self, source, outputfile) -> None:  # type: ignore[no-untyped-def]
        self.wfile.flush()
        self.connection.sendfile(source)


def _serve(directory: str) -> None:
    """Serve ``directory`` until stdin closes; print the port first."""

    def handler(*a: object, **kw: object) -> _SendfileHandler:
        return _SendfileHandler(*a, directory=directory, **kw)  # type: ignore[arg-type]

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print(srv.server_address[1], flush=True)
    sys.stdin.read()


@contextmanager
def file_server(directory: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 for ``directory`` in a process of its own (in ours, its
    threads would take the interpreter lock from the client being measured); yields its base
    URL."""
    import subprocess

    proc = subprocess.Popen(
        [sys.executable, __file__, "serve", str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    port = int(proc.stdout.readline())
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


@dataclass
class BigProject:
    root: Path
    cache: Path
    env: dict[str, str]
    package: str
    upstream: Any

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "emtk3s", "-C", str(self.root), "-q", *args]


def k3s_scale_project(work: Path, total: int, files: int, until: str = "build") -> BigProject:
    """A real project, made by the real CLI, whose one package carries K3s' source weight:
    the k3s-iptables-helpers package (its template lists every source in the lock) with
    ``files`` extra sources of ``total`` incompressible bytes, served by the fixture upstream
    on 127.0.0.1, fetched, pinned, rendered, packed and built (stage by stage, up to ``until``)."""
    import json
    import subprocess

    from tests.fixtures import k3s_release
    from tests.fixtures.upstream import Upstream

    up = Upstream(work / "up").start()
    k3s_release.populate(up)
    pkg = "k3s-iptables-helpers"
    root = work / "proj"
    root.mkdir()
    (root / "release.toml").write_text(
        f'[release]\nk3s = "{k3s_release.K3S_TAG}"\npackages = ["{pkg}"]\n'
    )
    # as on a packager's machine: Python keeps compiled modules (this sandbox sets
    # PYTHONDONTWRITEBYTECODE, which makes every start-up recompile the package)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({**up.mirror_env(), "EMTK3S_CACHE": str(work / "cache")})
    proj = BigProject(root, work / "cache", env, pkg, up)
    subprocess.run(proj.cli("resolve"), env=env, check=True, cwd=ROOT)
    lock_file = root / "emtk3s.lock"
    lock = json.loads(lock_file.read_text())
    served = work / "served"
    for i, size in enumerate(sizes(total, files)):
        path = f"/bench/dist/src-{i:02d}.tar.gz"
        # made a chunk at a time and served from disk: 5 GB never sits in memory
        up.disk_files[path] = served / f"src-{i:02d}.tar.gz"
        random_file(up.disk_files[path], size, seed=1000 + i)
        lock["packages"][pkg]["sources"].append(
            {
                "mirror": "github",
                "name": f"src-{i:02d}.tar.gz",
                "origin": "",
                "path": path,
                "pinned": False,
                "sha256": None,
                "size": None,
            }
        )
    lock_file.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    stages = ["fetch", "render", "srpm", "build"]
    for stage in stages[: stages.index(until) + 1]:  # the stages themselves, as `all` runs them
        subprocess.run(proj.cli(stage), env=env, check=True, cwd=ROOT)
    shutil.rmtree(served)  # served once: the disk holds the cache's copy only
    up.disk_files.clear()
    return proj


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    _serve(sys.argv[2])
