"""validate of the default release (the specs in SPECS/, both arches), cold (no stamps), against
another revision's code.

Each side runs in a child process of its own on a fresh copy of SPECS/ and times only the
stage's call (``validate_specs``: EMT's rules, ``rpmspec -P`` per spec and arch, rpmlint), so
start-up is not in the figure; the sides alternate.

The default release grows (16 packages since the addon images) and EMT's rules change (5a5be28
wanted ``#nospeccleaner`` beside a single changelog entry; EMT's linter now refuses it), so an
older revision's code may refuse today's specs. ``--packages a,b`` validates only those of
SPECS/ and ``--skip-emt-rules`` leaves out the EMT rules (text checks, a few milliseconds) on both
sides: the pair then times the same ``rpmspec -P`` and rpmlint work with each side's code.

Run: .venv/bin/python bench/bench_validate.py [--repeat 7] [--baseline 5a5be28]
     [--packages k3s,k3s-root,fuse-overlayfs,slirp4netns,k3s-iptables-helpers --skip-emt-rules]
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


def child(work: Path, packages: list[str], skip_rules: bool) -> None:
    import emtk3s
    from emtk3s.infra.paths import Project
    from emtk3s.stages.validate import validate_specs

    expected = os.environ.get("EMTK3S_BENCH_CODE") or str(ROOT)
    assert emtk3s.__file__.startswith(expected), f"{emtk3s.__file__} is not under {expected}"
    packages = packages or sorted(p.name for p in (ROOT / "SPECS").iterdir() if p.is_dir())
    for pkg in packages:
        shutil.copytree(ROOT / "SPECS" / pkg, work / "SPECS" / pkg)
    if skip_rules:
        import emtk3s.stages.validate as stage

        stage.emt_rules = lambda *_a, **_k: None  # type: ignore[assignment]
    project = Project.at(work, work / "cache")
    t0 = time.perf_counter()
    res = validate_specs(project, packages, ARCHES)
    took = time.perf_counter() - t0
    assert sorted(res.checked) == sorted(packages)
    print(json.dumps({"seconds": took, "packages": len(packages)}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--baseline", default="5a5be28")
    ap.add_argument("--packages", default="", help="validate only these (comma-separated)")
    ap.add_argument("--skip-emt-rules", action="store_true", help="on both sides")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    packages = [p for p in args.packages.split(",") if p]
    if args.child:
        child(args.child, packages, args.skip_emt_rules)
        return
    with scratch("validate") as work:
        base = baseline_tree(work, args.baseline)
        n = [0]
        passed = ["--packages", args.packages] + (
            ["--skip-emt-rules"] if args.skip_emt_rules else []
        )

        def side(tree: Path | None) -> float:
            n[0] += 1
            where = work / f"side-{n[0]}"
            proc = subprocess.run(
                [sys.executable, __file__, "--child", str(where), *passed],
                env=child_env(tree),
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            if proc.returncode != 0:
                sys.exit(f"the child on {tree or 'this tree'} failed:\n{proc.stderr}")
            out = proc.stdout
            shutil.rmtree(where)
            return float(json.loads(out.splitlines()[-1])["seconds"])

        side(None)
        side(base)  # warm the page cache of both trees and of rpmlint
        times: list[list[float]] = [[], []]
        for _ in range(args.repeat):
            times[0].append(side(None))
            times[1].append(side(base))
        ours, theirs = Stats(times[0]), Stats(times[1])
        which = f"SPECS/ {args.packages}" if packages else "the default release"
        rules = ", EMT rules skipped" if args.skip_emt_rules else ""
        print(f"validate of {which} ({len(ARCHES)} arches), no stamps, stage only{rules}")
        print(f"  this tree   {ours}  ratio {ours.median / theirs.median:.2f}x")
        print(f"  {args.baseline:<10}  {theirs}  ratio 1.00x")
        print(f"  min/min ratio {ours.min / theirs.min:.2f}x")


if __name__ == "__main__":
    main()
