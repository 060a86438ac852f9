"""The srpm stage at K3s scale against a plain `rpmbuild -bs`.

The project (bench/common.py: k3s_scale_project) carries 1 GB of sources in 75 files. Paired
and alternated: the library call behind `emtk3s srpm --force` (check the inputs, place the
verified sources, rpmbuild -bs, read the header, hash the SRPM once, publish it by rename,
stamp) and a plain `rpmbuild -bs` of the same spec with the same sources already in place,
both with emt.macros (source payload uncompressed). Once each, for the record: the same plain
rpmbuild -bs with rpm's default source payload gzip -9 (what EMT's pipeline uses).
Run: .venv/bin/python bench/bench_srpm.py [--gb 1] [--files 75] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess

from common import GB, ROOT, fmt, k3s_scale_project, paired, report, scratch, timed  # noqa: I001

from emtk3s.infra.cache import Cache


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--files", type=int, default=75)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-gzip", action="store_true", help="skip the gzip -9 payload run")
    args = ap.parse_args()
    with scratch("srpm") as work:
        p = k3s_scale_project(work, int(args.gb * GB), args.files, until="srpm")
        p.upstream.stop()
        pkg = p.package
        top = work / "plain"
        (top / "SOURCES").mkdir(parents=True)
        (top / "SPECS").mkdir()
        shutil.copy(p.root / "SPECS" / pkg / f"{pkg}.spec", top / "SPECS")
        for src in json.loads((p.root / "emtk3s.lock").read_text())["packages"][pkg]["sources"]:
            blob = Cache(p.cache).blob_path(src["sha256"])
            shutil.copyfile(blob, top / "SOURCES" / src["name"])

        from emtk3s.catalog import load as load_catalog
        from emtk3s.infra.paths import Project
        from emtk3s.model import lock as lockmod
        from emtk3s.stages import srpm

        project = Project.at(p.root, p.cache)
        catalog = load_catalog()
        locked = lockmod.require(project.lock_file, catalog.mirrors)

        def ours() -> None:
            srpm.build_srpm(project, locked, project.cache, pkg, catalog, force=True)

        def plain(*extra: str) -> None:
            subprocess.run(
                [
                    "rpmbuild",
                    "-bs",
                    "--define",
                    f"_topdir {top}",
                    "--load",
                    str(ROOT / "emtk3s/data/emt.macros"),
                    *extra,
                    str(top / "SPECS" / f"{pkg}.spec"),
                ],
                check=True,
                capture_output=True,
            )

        s_ours, s_plain = paired(args.repeat, ours, plain)
        size = next((p.root / "SRPMS").glob("*.src.rpm")).stat().st_size
        note = ""
        if not args.no_gzip:
            t_gz = timed(lambda: plain("--define", "_source_payload w9.gzdio"))
            gz_size = next((top / "SRPMS").glob("*.src.rpm")).stat().st_size
            note = (
                f"plain rpmbuild -bs with EMT's source payload (rpm default w9.gzdio): "
                f"{fmt(t_gz)} (n=1), SRPM {gz_size / GB:.4f} GB vs {size / GB:.4f} GB uncompressed"
            )
        report(
            f"SRPM of {args.gb:g} GB of sources in {args.files} files (SRPM {size / GB:.4f} GB)",
            [("emtk3s srpm (library call)", s_ours), ("plain rpmbuild -bs", s_plain)],
            note,
        )


if __name__ == "__main__":
    main()
