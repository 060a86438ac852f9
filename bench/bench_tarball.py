"""Deterministic tarball creation (emtk3s.tarballs.deterministic_tar) vs
`tar --sort=name --mtime=@T --owner=0 --group=0 --numeric-owner -cf - | gzip -n` on the same tree.
Run: .venv/bin/python bench/bench_tarball.py [--files 3000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from common import best_of  # noqa: I001

from emtk3s.infra.tarballs import deterministic_tar


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=3000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="emtk3s-bench-tar-"))
    src = work / "vendor"
    for i in range(args.files):
        d = src / f"mod{i % 60:02d}" / f"pkg{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        # Go-source-like text: compresses like a vendor tree does
        (d / f"file{i}.go").write_text(
            f"package pkg{i % 7}\n\n" + f"func F() int {{ return {i} }}\n" * 40
        )
    out_ours, out_tar = work / "ours.tar.gz", work / "tar.tar.gz"

    def ours() -> None:
        deterministic_tar(src, out_ours, "vendor", 1700000000, level=6)

    def plain() -> None:
        tar = subprocess.Popen(
            [
                "tar",
                "--sort=name",
                "--mtime=@1700000000",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
                "-C",
                str(work),
                "-cf",
                "-",
                "vendor",
            ],
            stdout=subprocess.PIPE,
        )
        with open(out_tar, "wb") as fh:
            subprocess.run(["gzip", "-n", "-6"], stdin=tar.stdout, stdout=fh, check=True)
        assert tar.wait() == 0

    t_ours, _ = best_of(3, ours)
    t_plain, _ = best_of(3, plain)
    size = sum(f.stat().st_size for f in src.rglob("*") if f.is_file())
    print(f"deterministic tarball of {args.files} files ({size / 1e6:.1f} MB), gzip level 6")
    print(
        f"  emtk3s deterministic_tar:         best {t_ours:.3f} s  ({out_ours.stat().st_size / 1e6:.2f} MB)"
    )
    print(
        f"  tar --sort=name ... | gzip -n:    best {t_plain:.3f} s  ({out_tar.stat().st_size / 1e6:.2f} MB)"
    )
    print(f"  ratio emtk3s/plain: {t_ours / t_plain:.2f}x")
    shutil.rmtree(work)
    os.sync()


if __name__ == "__main__":
    main()
