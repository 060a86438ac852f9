"""Wall time of a no-op `emtk3s all` (everything up to date) against interpreter start-up.

A no-op run must contact no server and run no rpmbuild: what is left is reading the lock,
hashing the cached sources and comparing stamps.
Run: .venv/bin/python bench/bench_noop_all.py
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
    work = Path(tempfile.mkdtemp(prefix="emtk3s-bench-noop-"))
    up = Upstream(work / "up").start()
    k3s_release.populate(up)
    proj = work / "proj"
    proj.mkdir()
    (proj / "release.toml").write_text(
        f'[release]\nk3s = "{k3s_release.K3S_TAG}"\npackages = ["k3s-iptables-helpers"]\n'
    )
    env = {**os.environ, **up.mirror_env(), "EMTK3S_CACHE": str(work / "cache")}
    cmd = [sys.executable, "-m", "emtk3s", "-C", str(proj), "-q", "all"]
    subprocess.run(cmd, env=env, check=True, cwd=ROOT)
    before = sum(up.requests.values())

    def noop() -> None:
        subprocess.run(cmd, env=env, check=True, cwd=ROOT)

    def bare() -> None:
        subprocess.run([sys.executable, "-c", "pass"], check=True)

    def imports() -> None:
        subprocess.run([sys.executable, "-c", "import emtk3s.cli"], check=True, cwd=ROOT)

    n = 7
    t_noop, m_noop = best_of(n, noop)
    t_bare, _ = best_of(n, bare)
    t_imp, _ = best_of(n, imports)
    assert sum(up.requests.values()) == before, "a no-op run contacted the server"
    up.stop()
    shutil.rmtree(work)
    print("no-op `emtk3s all` (k3s-iptables-helpers, everything up to date)")
    print(f"  emtk3s all:              best {t_noop * 1000:.0f} ms  median {m_noop * 1000:.0f} ms")
    print(f"  python -c pass:          best {t_bare * 1000:.0f} ms")
    print(f"  python -c 'import emtk3s.cli': best {t_imp * 1000:.0f} ms")
    print(
        f"  ratio all / import-only: {t_noop / t_imp:.2f}x  (all / bare interpreter: {t_noop / t_bare:.2f}x)"
    )


if __name__ == "__main__":
    main()
