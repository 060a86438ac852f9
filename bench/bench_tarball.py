"""Deterministic tarballs at Go-vendor scale, at the level the code uses (gzip -9).

A Go-vendor-like tree (default 300 MB in 50k files of Go-like text that compresses about 4:1,
bench/common.py: go_tree). Paired and alternated:
  - emtk3s deterministic_tar (GNU tar, every mtime set, parallel gzip -9 on every core),
  - the same with one thread,
  - `tar <same flags> | gzip -n -9`, the obvious single-threaded pipeline (what emtk3s did),
  - `tar <same flags> | zstd -9 -T<cores>`, for reference (another format: .tar.zst).
Run: .venv/bin/python bench/bench_tarball.py [--mb 300] [--files 50000] [--repeat 3]
     .venv/bin/python bench/bench_tarball.py --tree DIR   # a real tree instead, e.g. a checkout
       of an upstream snapshot: git --git-dir=REPO archive HEAD | tar -x -C DIR
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

from common import MB, go_tree, paired, report, scratch  # noqa: I001

from emtk3s.infra.tarballs import PACKER, TAR_FLAGS, deterministic_tar


def pipeline(src: Path, out: Path, compressor: list[str]) -> None:
    tar = subprocess.Popen(
        ["tar", *TAR_FLAGS, "--mtime=@1700000000", "-C", str(src), "-cf", "-", "."],
        stdout=subprocess.PIPE,
        env={**os.environ, "LC_ALL": "C"},
    )
    with open(out, "wb") as fh:
        subprocess.run(compressor, stdin=tar.stdout, stdout=fh, check=True)
    assert tar.stdout is not None
    tar.stdout.close()
    assert tar.wait() == 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=300)
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tree", type=Path, help="pack this directory instead of a generated one")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    with scratch("tar") as work:
        if args.tree is not None:
            src = args.tree.resolve()
            files = [p for p in src.rglob("*") if p.is_file() and not p.is_symlink()]
            size, args.files = sum(p.stat().st_size for p in files), len(files)
        else:
            src = work / "vendor"
            size = go_tree(src, int(args.mb * MB), args.files)
        outs = {k: work / f"{k}.out" for k in ("par", "one", "gzip", "zstd")}
        sides = [
            lambda: deterministic_tar(src, outs["par"], "vendor", 1700000000, level=9),
            lambda: deterministic_tar(src, outs["one"], "vendor", 1700000000, level=9, jobs=1),
            lambda: pipeline(src, outs["zstd"], ["zstd", "-q", "-9", f"-T{cores}", "-c"]),
            lambda: pipeline(src, outs["gzip"], ["gzip", "-n", "-9"]),
        ]
        s_par, s_one, s_zstd, s_gzip = paired(args.repeat, *sides)
        assert outs["par"].read_bytes() == outs["one"].read_bytes(), "bytes depend on threads"
        mb = {k: p.stat().st_size / MB for k, p in outs.items()}
        report(
            f"deterministic tarball of {args.files} files, {size / MB:.0f} MB, gzip -9 "
            f"(packer {PACKER}){f', tree {src}' if args.tree else ''}",
            [
                (f"emtk3s, parallel gzip -9, {cores} threads ({mb['par']:.1f} MB)", s_par),
                (f"emtk3s, parallel gzip -9, 1 thread ({mb['one']:.1f} MB)", s_one),
                (f"tar | zstd -9 -T{cores}, for reference ({mb['zstd']:.1f} MB)", s_zstd),
                (f"tar | gzip -n -9 ({mb['gzip']:.1f} MB)", s_gzip),
            ],
            "the two emtk3s outputs are byte-identical (asserted)",
        )


if __name__ == "__main__":
    main()
