"""Downloads and warm fetches at real size.

1. One large download (default 500 MB, the size of K3s' largest sources) over loopback from a
   sendfile server: emtk3s' download path (stream, hash on a second thread, verify, rename
   into the cache) vs `curl -s -o` of the same URL.
2. A warm fetch of a cache holding the K3s-scale source set (default 1 GB in 75 files): the
   cache-hit path of `fetch_many` trusting stat records, the same with --verify (full rehash,
   several files at once), and the bare alternative, an os.stat of every file.

Run: .venv/bin/python bench/bench_fetch.py [--download-mb 500] [--cache-gb 1] [--files 75]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from common import GB, MB, file_server, paired, random_file, report, scratch, sizes  # noqa: I001

from emtk3s.infra.cache import Cache, sha256_file
from emtk3s.infra.http import Download, Policy, fetch_many


def download(work: Path, size: int, repeat: int) -> None:
    served = work / "served"
    random_file(served / "big.tar.gz", size, seed=5)
    sha = sha256_file(served / "big.tar.gz")
    with file_server(served) as base:
        url = f"{base}/big.tar.gz"
        dl = [Download("big.tar.gz", url, sha, size, allow_http=True)]
        n = [0]

        def ours() -> None:
            n[0] += 1
            cache = Cache(work / f"cache-{n[0]}")
            fetch_many(cache, dl, Policy(jobs=1))
            shutil.rmtree(cache.root)

        def curl() -> None:
            out = work / "curl.out"
            subprocess.run(["curl", "-s", "-f", "-o", str(out), url], check=True)
            out.unlink()

        def curl_sync() -> None:  # curl, then an fsync (what emtk3s did before records were sealed)
            out = work / "curl.out"
            subprocess.run(["curl", "-s", "-f", "-o", str(out), url], check=True)
            fd = os.open(out, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
            out.unlink()

        ours()  # warm the page cache of the served file
        s_ours, s_sync, s_curl = paired(repeat, ours, curl_sync, curl)
    report(
        f"one {size / MB:.0f} MB download over loopback (sendfile server)",
        [
            ("emtk3s fetch (hashed on a 2nd thread; record sealed to the boot)", s_ours),
            ("curl -o, then fsync", s_sync),
            ("curl -o", s_curl),
        ],
    )


def small(work: Path, count: int, size: int, repeat: int, jobs: int) -> None:
    """Many small downloads (buildroot's and the addon images' sources): ``count`` files of
    ``size`` bytes over a keep-alive loopback server, emtk3s at -j 1 and -j ``jobs`` against one
    curl process fetching the same list (one connection, reused) and curl --parallel."""
    served = work / "served"
    dls: list[Download] = []
    for i in range(count):
        path = served / f"s{i:05d}.tar.gz"
        random_file(path, size, seed=10_000 + i)
    shas = [sha256_file(served / f"s{i:05d}.tar.gz") for i in range(count)]
    with file_server(served) as base:
        for i, sha in enumerate(shas):
            name = f"s{i:05d}.tar.gz"
            dls.append(Download(name, f"{base}/{name}", sha, size, allow_http=True))
        config = work / "curl.cfg"
        out_dir = work / "curl-out"
        config.write_text("".join(f'url = "{d.url}"\noutput = "{out_dir}/{d.name}"\n' for d in dls))
        n = [0]

        def ours(j: int) -> None:
            n[0] += 1
            cache = Cache(work / f"cache-{n[0]}")
            fetch_many(cache, dls, Policy(jobs=j))
            shutil.rmtree(cache.root)

        def curl(*extra: str) -> None:
            out_dir.mkdir()
            subprocess.run(
                ["curl", "-s", "--no-progress-meter", "-f", *extra, "-K", str(config)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            shutil.rmtree(out_dir)

        ours(jobs)  # warm the page cache of the served files
        s_1, s_j, s_par, s_curl = paired(
            repeat,
            lambda: ours(1),
            lambda: ours(jobs),
            lambda: curl("--parallel", "--parallel-max", str(jobs)),
            curl,
        )
    report(
        f"{count} downloads of {size / 1000:.0f} kB over loopback (keep-alive sendfile server)",
        [
            ("emtk3s fetch_many -j 1", s_1),
            (f"emtk3s fetch_many -j {jobs}", s_j),
            (f"curl --parallel-max {jobs} (one process)", s_par),
            ("curl (one process, one connection reused)", s_curl),
        ],
    )


def warm(work: Path, total: int, files: int, repeat: int) -> None:
    cache = Cache(work / "cache")
    dls = []
    for i, size in enumerate(sizes(total, files)):
        tmp = work / f"src-{i}.tar.gz"
        random_file(tmp, size, seed=100 + i)
        h = hashlib.sha256()
        with open(tmp, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        sha = cache.add_file(tmp, h.hexdigest(), tmp.name)
        dls.append(Download(tmp.name, f"https://example.invalid/{tmp.name}", sha, size))

    def trusted() -> None:
        fetch_many(Cache(cache.root), dls)

    def verify() -> None:
        fetch_many(Cache(cache.root, verify=True), dls)

    def stat_only() -> None:
        for d in dls:
            os.stat(cache.blob_path(d.sha256 or ""))

    s_t, s_v, s_s = paired(repeat, trusted, verify, stat_only)
    report(
        f"warm fetch of {total / GB:.1f} GB in {files} cached files (in-process, no start-up)",
        [
            ("emtk3s fetch_many, stat records", s_t),
            ("emtk3s fetch_many --verify (rehash all)", s_v),
            ("os.stat of every blob", s_s),
        ],
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--download-mb", type=float, default=500)
    ap.add_argument("--cache-gb", type=float, default=1.0)
    ap.add_argument("--files", type=int, default=75)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--small-count", type=int, default=1000)
    ap.add_argument("--small-kb", type=float, default=50)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument(
        "--only", choices=["download", "small", "warm"], action="append", help="run only these"
    )
    args = ap.parse_args()
    only = set(args.only or ["download", "small", "warm"])
    if "small" in only:
        with scratch("small") as work:
            small(work, args.small_count, int(args.small_kb * 1000), args.repeat, args.jobs)
    if "download" not in only:
        args.download_mb = 0
    if args.download_mb:
        with scratch("fetch") as work:
            download(work, int(args.download_mb * MB), args.repeat)
    if "warm" not in only:
        return
    with scratch("warm") as work:
        warm(work, int(args.cache_gb * GB), args.files, args.repeat)


if __name__ == "__main__":
    main()
