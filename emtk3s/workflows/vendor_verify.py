"""vendor --verify: make each pinned Go vendor tarball again (with the go on PATH and the module
proxy) and compare its tree with the pinned one's, file by file. A tarball pinned from another
record (EMT's signatures.json: ``emtk3s emt pin``) is not byte-identical to ours (other packer,
other timestamps), so the trees are compared: the same paths with the same contents."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from emtk3s.infra.errors import IntegrityError, PreconditionError
from emtk3s.infra.paths import Project
from emtk3s.model import package as pkgs
from emtk3s.model.lock import Lock
from emtk3s.model.release import Release


def tree(path: Path) -> dict[str, str]:
    """Path -> sha256 of each regular file of a tarball (a leading ./ dropped)."""
    out: dict[str, str] = {}
    with tarfile.open(path) as tar:
        for m in tar.getmembers():
            if m.isfile():
                fh = tar.extractfile(m)
                assert fh is not None
                out[m.name.removeprefix("./")] = hashlib.sha256(fh.read()).hexdigest()
    return out


def compare(pinned: Path, made: Path) -> list[str]:
    a, b = tree(pinned), tree(made)
    out = [f"only in the pinned tarball: {n}" for n in sorted(set(a) - set(b))]
    out += [f"only in the one made here: {n}" for n in sorted(set(b) - set(a))]
    out += [f"differs: {n}" for n in sorted(set(a) & set(b)) if a[n] != b[n]]
    return out


def verify(project: Project, release: Release, lock: Lock, packages: list[str]) -> dict[str, Any]:
    cache = project.cache
    results: list[dict[str, Any]] = []
    for pname in packages:
        plock = lock.packages[pname]
        comp = lock.components[plock.component]
        pdef = release.catalog.packages.get(pname)
        for src in plock.sources:
            if not src.generated or src.sha256 is None:
                continue
            rule = pdef.rule_for(src.name, comp) if pdef else None
            if rule is None or rule.generate is None:
                continue
            if not cache.has(src.sha256, src.name):
                raise PreconditionError(
                    f"{pname}/{src.name} is not in the cache", "run emtk3s fetch first"
                )
            inputs = {
                s.name: cache.get(s.sha256, s.name)
                for s in plock.sources
                if not s.generated and s.sha256 is not None and cache.has(s.sha256, s.name)
            }
            scratch = cache.root / "tmp"
            scratch.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=f"verify-{pname}-", dir=scratch))
            try:
                ctx = pkgs.GenerateContext(release, lock.components, inputs, work, cache.root, "")
                res = rule.generate(ctx)
                made = res[0] if isinstance(res, tuple) else res
                diffs = compare(cache.get(src.sha256, src.name), made)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            results.append(
                {
                    "source": f"{pname}/{src.name}",
                    "origin": src.origin,
                    "same_tree": not diffs,
                    "differences": diffs,
                }
            )
    out: dict[str, Any] = {"verified": results}
    bad = [r for r in results if not r["same_tree"]]
    if bad:
        err = IntegrityError(
            "vendor --verify: "
            + "; ".join(
                f"{r['source']} ({r['origin']}): {len(r['differences'])} difference(s), "
                f"first: {r['differences'][0]}"
                for r in bad
            ),
            "the pinned tarball is not what go mod vendor makes from this tag; do not ship it",
        )
        err.result = dict(out)
        raise err
    return out
