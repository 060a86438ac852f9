"""Chain builds: wall time at -j 2 vs -j 1 for independent packages (rpmbuild backend), and the
overhead of the chroot backend over a bare `rpmbuild --rebuild` of the same SRPM.
Run (as root, for the chroot part): .venv/bin/python bench/bench_chain.py [--packages 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT  # noqa: I001

from tests.fixtures import chroot, cpkgs

SPEC = (
    cpkgs.HEADER
    + """Source0:        big.c

%description
Benchmark package: compiles a generated C file.

%prep
%setup -q -c -T
cp -p %{{SOURCE0}} .

%build
gcc -O2 -c big.c -o big.o

%install
install -D -m 0644 big.o %{{buildroot}}%{{_datadir}}/{name}/big.o

%files
%{{_datadir}}/{name}/big.o

%changelog
* Fri Nov 08 2024 Bench <bench@example.invalid> - 1.0-1
- Bench.
"""
)


def big_c(n: int) -> str:
    return "".join(
        f"int f{i}(int x) {{ int s = 0; for (int j = 0; j < x; j++) s += (j * {i}) ^ (s >> 3); return s; }}\n"
        for i in range(n)
    )


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, default=4)
    ap.add_argument("--functions", type=int, default=1500)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="emtk3s-bench-chain-"))
    proj = work / "proj"
    (proj / "SPECS").mkdir(parents=True)
    (proj / "release.toml").write_text('[release]\nk3s = "v1.32.4+k3s1"\n')
    for i in range(args.packages):
        name = f"bench-{i}"
        d = proj / "SPECS" / name
        d.mkdir()
        header = SPEC.replace("{summary}", "Benchmark").replace("{name}", name)
        (d / f"{name}.spec").write_text(header.replace("{{", "{").replace("}}", "}"))
        (d / "big.c").write_text(big_c(args.functions))
    env = {**os.environ, "EMTK3S_CACHE": str(work / "cache")}
    base = [
        sys.executable,
        "-m",
        "emtk3s",
        "-C",
        str(proj),
        "-q",
        "chain",
        "--backend",
        "rpmbuild",
        "--nodeps",
        "--force",
    ]
    timed([*base, "-j", "1"], env)  # warm-up (SRPMs, repodata)
    t1 = timed([*base, "-j", "1"], env)
    t2 = timed([*base, "-j", "2"], env)
    print(f"chain of {args.packages} independent packages (rpmbuild backend, gcc -O2 each)")
    print(
        f"  -j 1: {t1:.2f} s   -j 2: {t2:.2f} s   ratio -j1/-j2: {t1 / t2:.2f}x faster with 2 jobs"
    )
    if os.geteuid() == 0 and shutil.which("debootstrap"):
        root = chroot.worker_chroot()
        chain_chroot = [
            sys.executable,
            "-m",
            "emtk3s",
            "-C",
            str(proj),
            "-q",
            "chain",
            "-p",
            "bench-0",
            "--backend",
            "chroot",
            "--chroot",
            str(root),
            "--force",
        ]
        timed(chain_chroot, env)
        tc = min(timed(chain_chroot, env) for _ in range(3))
        srpm = next((proj / "SRPMS").glob("bench-0-*.src.rpm"))
        top = work / "bare"
        bare = [
            "rpmbuild",
            "--rebuild",
            "--define",
            f"_topdir {top}",
            "--load",
            str(ROOT / "emtk3s/data/emt.macros"),
            str(srpm),
        ]
        tb = min(timed(bare, env) for _ in range(3))
        print(
            "one package, chroot backend (overlay, deps check, unshare --net) vs bare rpmbuild --rebuild"
        )
        print(f"  chroot: {tc:.2f} s   bare: {tb:.2f} s   overhead ratio: {tc / tb:.2f}x")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
