"""render at many packages: O(P), against the per-package recomputation it replaced.

EMT's SPECS/ holds thousands of packages; a K3s release is five today, but a render that grows
with P² (every package re-hashing what all packages share: the lock, the release, the shared
includes, the history, every package's code) would show at a few hundred. This bench makes P
packages (P = 50, 200, 500 by default) as copies of k3s-iptables-helpers under other names —
each with its own lock entry and its own project template, so each is a real render through
Jinja2 — and times, paired and alternated:

  - a no-op `render` (every package up to date: its input key computed and its stamp and
    SPECS/<pkg>/ checked), the path a pipeline run pays for every package every time;
  - the obvious alternative: the same check with each package's key computed on its own
    (``InputKeys`` made per package, what render did before issue #15 item 5);
  - a full render (every package written), for the per-package cost of the real work.

It prints the time per package at each P: flat per-package figures are O(P).

``--baseline REV`` also times a full render at the largest P against the code of git revision
REV, each side in a child process of its own, alternated: this tree with its Jinja bytecode
cache warm (templates unchanged since the last render: a K3s bump), this tree with the cache
removed first, and REV.

Run: .venv/bin/python bench/bench_render.py [--packages 50 200 500] [--repeat 5] [--baseline REV]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from common import ROOT, Stats, baseline_tree, child_env, fmt, paired, scratch, timed  # noqa: I001

from emtk3s.infra.paths import Project
from emtk3s.model import release as release_toml
from emtk3s.model.lock import Lock
from emtk3s.stages import render

GOLDEN = ROOT / "tests" / "golden"
BASE = "k3s-iptables-helpers"


def many_packages(
    work: Path, count: int, cache: Path | None = None
) -> tuple[release_toml.Release, Lock, Project, list[str]]:
    """A project whose lock and templates hold ``count`` copies of the helpers package."""
    import emtk3s

    # not "try: import": an editable install's finder would supply this tree's module to an
    # older revision's package that lacks it
    if not (Path(emtk3s.__file__).parent / "catalog.py").is_file():
        return _many_packages_before_catalog(work, count, cache)  # bench --baseline
    from emtk3s import catalog

    known = catalog.load()
    release = release_toml.load(GOLDEN / "release.toml", known, environ={})
    lock = Lock.from_json((GOLDEN / "lock.json").read_text(), known.mirrors)
    base = known.packages[BASE]
    template = (base.template_dir() / f"{BASE}.spec.j2").read_text()
    names = [f"bench{i:04d}-helpers" for i in range(count)]
    root = work / f"proj-{count}"
    for name in names:
        tdir = root / "templates" / name
        tdir.mkdir(parents=True, exist_ok=True)
        (tdir / f"{name}.spec.j2").write_text(template)
    # the copies exist only in this release's catalog (the next size starts from the real one)
    found = {**known.packages, **{name: replace(base, name=name) for name in names}}
    release = replace(release, catalog=replace(known, packages=MappingProxyType(found)))
    packages = dict(lock.packages)
    for name in names:
        packages[name] = replace(lock.packages[BASE], name=name)
    lock = replace(lock, packages=packages)
    project = Project.at(root, cache or work / "cache")
    return release, lock, project, names


def _many_packages_before_catalog(
    work: Path, count: int, cache: Path | None
) -> tuple[release_toml.Release, Lock, Project, list[str]]:
    """:func:`many_packages` for the code before the catalog (packages found by discovery)."""
    from emtk3s.model import package as pkgs  # type: ignore[attr-defined]

    release = release_toml.load(GOLDEN / "release.toml", environ={})  # type: ignore[call-arg]
    lock = Lock.from_json((GOLDEN / "lock.json").read_text())  # type: ignore[call-arg]
    found = pkgs.__getattr__("PACKAGES")
    base = found[BASE]
    template = (base.template_dir() / f"{BASE}.spec.j2").read_text()
    names = [f"bench{i:04d}-helpers" for i in range(count)]
    root = work / f"proj-{count}"
    for name in names:
        tdir = root / "templates" / name
        tdir.mkdir(parents=True, exist_ok=True)
        (tdir / f"{name}.spec.j2").write_text(template)
        found[name] = replace(base, name=name)
    packages = dict(lock.packages)
    for name in names:
        packages[name] = replace(lock.packages[BASE], name=name)
    lock = replace(lock, packages=packages)
    return release, lock, Project.at(root, cache or work / "cache"), names


def measure(work: Path, count: int, repeat: int) -> tuple[int, Stats, Stats, float]:
    release, lock, project, names = many_packages(work, count)

    def full() -> None:
        shutil.rmtree(project.specs, ignore_errors=True)
        shutil.rmtree(project.root / ".emtk3s", ignore_errors=True)
        res = render.render(release, lock, project, names)
        assert len(res.written) == count

    def noop() -> None:
        res = render.render(release, lock, project, names)
        assert res.written == [] and len(res.unchanged) == count

    def per_package_keys() -> None:  # the alternative: shared inputs hashed per package
        store = project.stamps
        for name in names:
            key = render.InputKeys(release, lock, project.templates, {}).key(name)
            stamp = store.fresh(render.NAME, name, key)
            assert stamp is not None
            assert stamp.get("tree") == render.tree_digest(project.specs / name)

    t_full = min(timed(full) for _ in range(2))
    s_noop, s_alt = paired(repeat, noop, per_package_keys)
    return count, s_noop, s_alt, t_full


def child_full(work: Path, count: int) -> None:
    """One full render of ``count`` packages in this process (the code on PYTHONPATH); print
    its seconds as JSON."""
    import os

    expected = os.environ.get("EMTK3S_BENCH_CODE") or str(ROOT)
    assert render.__file__.startswith(expected), f"{render.__file__} is not under {expected}"
    release, lock, project, names = many_packages(work, count, work.parent / "cache")
    shutil.rmtree(project.specs, ignore_errors=True)
    t0 = time.perf_counter()
    res = render.render(release, lock, project, names)
    took = time.perf_counter() - t0
    assert len(res.written) == count
    print(json.dumps({"seconds": took}))


def versus(work: Path, count: int, repeat: int, rev: str) -> None:
    base = baseline_tree(work, rev)
    n = [0]

    def side(tree: Path | None, cold: bool = False) -> float:
        n[0] += 1
        # the same path each time for a side: its templates keep their names and files. Each
        # side has a cache of its own (the child's is beside its project): removing the cold
        # side's bytecode cache used to remove the warm side's too, so "warm" was cold
        where = work / ("base" if tree else "cold" if cold else "warm") / "side"
        if cold:
            shutil.rmtree(where.parent / "cache" / "jinja", ignore_errors=True)
        out = subprocess.run(
            [sys.executable, __file__, "--child-full", str(count), "--work", str(where)],
            env=child_env(tree),
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout
        shutil.rmtree(where)
        return float(json.loads(out.splitlines()[-1])["seconds"])

    side(None)  # the bytecode cache of this tree's templates
    times: list[list[float]] = [[], [], []]
    for _ in range(repeat):
        times[0].append(side(None))
        times[1].append(side(None, cold=True))
        times[2].append(side(base))
    stats = [Stats(t) for t in times]
    print(f"full render of {count} packages, each in a process of its own (render call only)")
    for label, st in zip(
        ["this tree, bytecode cache warm", "this tree, bytecode cache removed", f"{rev}"],
        stats,
        strict=True,
    ):
        print(f"  {label:<34} {st}  ratio {st.median / stats[2].median:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, nargs="+", default=[50, 200, 500])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--baseline", help="git revision to compare a full render with")
    ap.add_argument("--child-full", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_full:
        child_full(args.work, args.child_full)
        return
    with scratch("render") as work:
        if args.baseline:
            versus(work, max(args.packages), args.repeat, args.baseline)
        rows = [measure(work, count, args.repeat) for count in args.packages]
    print("render of P packages (copies of k3s-iptables-helpers), per package in brackets")
    for count, s_noop, s_alt, t_full in rows:
        print(
            f"  P={count:<4} no-op render {s_noop} [{fmt(s_noop.median / count)}]  "
            f"per-package keys {s_alt} [{fmt(s_alt.median / count)}]  "
            f"ratio {s_noop.median / s_alt.median:.3f}x  "
            f"full render {fmt(t_full)} [{fmt(t_full / count)}]"
        )
    if len(rows) > 1:
        (p0, noop0, alt0, full0), (p1, noop1, alt1, full1) = rows[0], rows[-1]
        print(
            f"  growth P={p0} -> P={p1} ({p1 / p0:.1f}x the packages; linear is {p1 / p0:.1f}x): "
            f"no-op render {noop1.median / noop0.median:.1f}x, per-package keys "
            f"{alt1.median / alt0.median:.1f}x, full render {full1 / full0:.1f}x"
        )


if __name__ == "__main__":
    main()
