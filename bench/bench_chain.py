"""Chain builds: wall time at -j 2 vs -j 1 for independent packages (rpmbuild backend), and the
overhead of the chroot backend over a bare `rpmbuild --rebuild` of the same SRPM, each pair run
alternately --repeat times (min and median, ratio of the medians).
Run (as root, for the chroot part): .venv/bin/python bench/bench_chain.py [--packages 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, paired, report  # noqa: I001

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


def run(cmd: list[str], env: dict[str, str]) -> None:
    subprocess.run(cmd, env=env, check=True, cwd=ROOT, capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, default=4)
    ap.add_argument("--functions", type=int, default=1500)
    ap.add_argument("--repeat", type=int, default=3)
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
    chain_cmd = [sys.executable, "-m", "emtk3s", "-C", str(proj), "-q", "chain"]
    base = [*chain_cmd, "--backend", "rpmbuild", "--nodeps", "--force"]
    run([*base, "-j", "1"], env)  # warm-up (SRPMs, repodata)
    s2, s1 = paired(
        args.repeat, lambda: run([*base, "-j", "2"], env), lambda: run([*base, "-j", "1"], env)
    )
    report(
        f"chain of {args.packages} independent packages (rpmbuild backend, gcc -O2 each)",
        [("emtk3s chain -j 2", s2), ("emtk3s chain -j 1", s1)],
    )
    if os.geteuid() == 0 and shutil.which("debootstrap"):
        root = chroot.worker_chroot()
        chain_chroot = [*chain_cmd, "-p", "bench-0", "--force", "--backend", "chroot"]
        chain_chroot += ["--chroot", str(root)]
        run(chain_chroot, env)
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
        s_chroot, s_bare = paired(
            args.repeat, lambda: run(chain_chroot, env), lambda: run(bare, env)
        )
        report(
            "one package, chroot backend (overlay, deps check, sandbox, no network) vs bare "
            "rpmbuild --rebuild",
            [("emtk3s chain --backend chroot", s_chroot), ("bare rpmbuild --rebuild", s_bare)],
        )
        # an up-to-date chain with the worker chroot given as a tarball (as EMT ships it):
        # what a packager's re-run pays before any build starts
        tarball = chroot.worker_chroot_tarball()
        noop = [*chain_cmd, "--backend", "chroot", "--chroot", str(tarball)]
        run(noop, env)  # builds every package once in the unpacked tarball
        helped = [sys.executable, "-m", "emtk3s", "--help"]
        s_noop, s_help = paired(args.repeat * 3, lambda: run(noop, env), lambda: run(helped, env))
        report(
            f"up-to-date chain of {args.packages} packages, chroot backend, worker chroot tarball "
            f"of {tarball.stat().st_size / 1e6:.0f} MB",
            [("emtk3s chain --backend chroot (no-op)", s_noop), ("emtk3s --help", s_help)],
        )
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
