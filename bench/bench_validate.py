"""validate of the default release (the specs in SPECS/, both arches), cold (no stamps), against
another revision's code.

Each side runs in a child process of its own on a fresh copy of SPECS/ and times only the
stage's call (``validate_specs``: EMT's rules, ``rpmspec -P`` per spec and arch, rpmlint), so
start-up is not in the figure; the sides alternate.

Run: .venv/bin/python bench/bench_validate.py [--repeat 7] [--baseline 5a5be28]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, Stats, baseline_tree, child_env, scratch  # noqa: I001

ARCHES = ["x86_64", "aarch64"]


def child(work: Path) -> None:
    import emtk3s
    from emtk3s.infra.paths import Project
    from emtk3s.stages.validate import validate_specs

    expected = os.environ.get("EMTK3S_BENCH_CODE") or str(ROOT)
    assert emtk3s.__file__.startswith(expected), f"{emtk3s.__file__} is not under {expected}"
    shutil.copytree(ROOT / "SPECS", work / "SPECS")
    packages = sorted(p.name for p in (work / "SPECS").iterdir() if p.is_dir())
    project = Project.at(work, work / "cache")
    t0 = time.perf_counter()
    res = validate_specs(project, packages, ARCHES)
    took = time.perf_counter() - t0
    assert sorted(res.checked) == packages
    print(json.dumps({"seconds": took, "packages": len(packages)}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--baseline", default="5a5be28")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    with scratch("validate") as work:
        base = baseline_tree(work, args.baseline)
        n = [0]

        def side(tree: Path | None) -> float:
            n[0] += 1
            where = work / f"side-{n[0]}"
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(where)],
                env=child_env(tree),
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
            ).stdout
            shutil.rmtree(where)
            return float(json.loads(out.splitlines()[-1])["seconds"])

        side(None)
        side(base)  # warm the page cache of both trees and of rpmlint
        times: list[list[float]] = [[], []]
        for _ in range(args.repeat):
            times[0].append(side(None))
            times[1].append(side(base))
        ours, theirs = Stats(times[0]), Stats(times[1])
        print(f"validate of the default release ({len(ARCHES)} arches), no stamps, stage only")
        print(f"  this tree   {ours}  ratio {ours.median / theirs.median:.2f}x")
        print(f"  {args.baseline:<10}  {theirs}  ratio 1.00x")
        print(f"  min/min ratio {ours.min / theirs.min:.2f}x")


if __name__ == "__main__":
    main()
