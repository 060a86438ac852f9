"""`emtk3s srpm --force` (copy sources from the cache, clamp mtimes, rpmbuild -bs, read the header
back) vs a plain `rpmbuild -bs` of the same spec with the sources already in place.
Run: .venv/bin/python bench/bench_srpm.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, best_of  # noqa: I001

from tests.fixtures import k3s_release
from tests.fixtures.upstream import Upstream


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="emtk3s-bench-srpm-"))
    up = Upstream(work / "up").start()
    k3s_release.populate(up)
    proj = work / "proj"
    proj.mkdir()
    pkg = "k3s-iptables-helpers"
    (proj / "release.toml").write_text(
        f'[release]\nk3s = "{k3s_release.K3S_TAG}"\npackages = ["{pkg}"]\n'
    )
    env = {**os.environ, **up.mirror_env(), "EMTK3S_CACHE": str(work / "cache")}
    base = [sys.executable, "-m", "emtk3s", "-C", str(proj), "-q"]
    subprocess.run([*base, "all", "--until", "srpm"], env=env, check=True, cwd=ROOT)
    # the plain alternative: a topdir with the same spec and sources, rpmbuild -bs
    top = work / "plain"
    (top / "SOURCES").mkdir(parents=True)
    (top / "SPECS").mkdir()
    shutil.copy(proj / "SPECS" / pkg / f"{pkg}.spec", top / "SPECS")
    lock = (proj / "emtk3s.lock").read_text()
    import json

    for src in json.loads(lock)["packages"][pkg]["sources"]:
        blob = next((work / "cache" / "blobs").rglob(src["sha256"]))
        shutil.copy(blob, top / "SOURCES" / src["name"])

    from emtk3s.infra.paths import Project
    from emtk3s.model import lock as lockmod
    from emtk3s.stages import srpm

    project = Project.at(proj, work / "cache")
    locked = lockmod.require(project.lock_file)

    def ours() -> None:  # the library call behind `emtk3s srpm --force`, in this process
        srpm.build_srpm(project, locked, project.cache, pkg, force=True)

    def ours_cli() -> None:  # the whole command, interpreter start-up included
        subprocess.run([*base, "srpm", "--force"], env=env, check=True, cwd=ROOT)

    def plain() -> None:
        subprocess.run(
            [
                "rpmbuild",
                "-bs",
                "--define",
                f"_topdir {top}",
                "--load",
                str(ROOT / "emtk3s/data/emt.macros"),
                str(top / "SPECS" / f"{pkg}.spec"),
            ],
            check=True,
            capture_output=True,
        )

    t_ours, m_ours = best_of(7, ours)
    t_cli, _ = best_of(5, ours_cli)
    t_plain, m_plain = best_of(7, plain)
    up.stop()
    shutil.rmtree(work)
    print(f"SRPM of {pkg}")
    print(f"  emtk3s srpm (library): best {t_ours * 1000:.0f} ms  median {m_ours * 1000:.0f} ms")
    print(f"  emtk3s srpm --force (CLI, with interpreter start-up): best {t_cli * 1000:.0f} ms")
    print(f"  plain rpmbuild -bs:   best {t_plain * 1000:.0f} ms  median {m_plain * 1000:.0f} ms")
    print(f"  ratio emtk3s/plain:   {t_ours / t_plain:.2f}x  (CLI/plain {t_cli / t_plain:.2f}x)")


if __name__ == "__main__":
    main()
