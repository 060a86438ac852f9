"""A no-op `emtk3s all` at K3s scale against the CLI's own start-up.

The project is made by the real CLI (bench/common.py: k3s_scale_project): one package with
1 GB of sources in 75 files, fetched, pinned, rendered, built into a 1 GB SRPM and its RPM.
Then, everything up to date, paired and alternated:
  - `emtk3s all` (answered from the memo of the last no-op: docs/architecture.md),
  - `emtk3s --json all` (the full no-op: every stage loaded, each finds its stamp up to date
    and trusts each verified file by its stat record; --json never replays the memo),
  - `emtk3s --verify all` (rehashes every cached source, the SRPM and the RPM: the old no-op),
  - `emtk3s fetch` (a warm fetch: every source already cached),
  - `emtk3s --help` (interpreter start-up, imports, click: what any command pays),
  - `python -c "import click"` (the floor of any click program's start-up).
Run: .venv/bin/python bench/bench_noop_all.py [--gb 1] [--files 75] [--repeat 7]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from common import GB, ROOT, k3s_scale_project, paired, report, scratch  # noqa: I001


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--files", type=int, default=75)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    with scratch("noop") as work:
        p = k3s_scale_project(work, int(args.gb * GB), args.files)
        srpm = next((p.root / "SRPMS").glob("*.src.rpm"))
        before = sum(p.upstream.requests.values())

        def run(*a: str) -> None:
            subprocess.run(p.cli(*a), env=p.env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)

        run("all")  # the first run after the build records what it had not yet

        def python(code: str) -> None:
            subprocess.run([sys.executable, "-c", code], env=p.env, check=True, cwd=ROOT)

        s_noop, s_full, s_verify, s_fetch, s_help, s_click = paired(
            args.repeat,
            lambda: run("all"),
            lambda: run("--json", "all"),
            lambda: run("--verify", "all"),
            lambda: run("fetch"),
            lambda: run("--help"),
            lambda: python("import click"),
        )
        assert sum(p.upstream.requests.values()) == before, "a no-op run contacted the server"
        p.upstream.stop()
        report(
            f"no-op `emtk3s all`: {args.gb:g} GB of sources in {args.files} files, "
            f"SRPM {srpm.stat().st_size / GB:.2f} GB, everything up to date",
            [
                ("emtk3s all", s_noop),
                ("emtk3s --json all (every stage loaded and skipped)", s_full),
                ("emtk3s --verify all (rehash everything)", s_verify),
                ("emtk3s fetch (warm)", s_fetch),
                ("emtk3s --help", s_help),
            ],
        )
        report(
            "start-up: `emtk3s --help` against the interpreter with click alone",
            [("emtk3s --help", s_help), ('python -c "import click"', s_click)],
        )


if __name__ == "__main__":
    main()
