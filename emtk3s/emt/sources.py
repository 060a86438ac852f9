"""emt sources: every file EMT's source server must hold for the rendered specs.

EMT's packer fetches each Source by its basename from EMT's own source server, never from the
Source URL; so a release engineer uploads exactly these files (generated tarballs included),
each named as the spec's signatures.json names it, with the sha256 recorded there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from emtk3s.infra.cache import Cache
from emtk3s.infra.errors import InputError, IntegrityError


def listing(specs_dir: Path, cache: Cache) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    pkgs = sorted(d.name for d in specs_dir.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not pkgs:
        raise InputError(f"{specs_dir}: nothing rendered", "run emtk3s render first")
    for pkg in pkgs:
        sig = specs_dir / pkg / f"{pkg}.signatures.json"
        try:
            sigs = json.loads(sig.read_text(encoding="utf-8"))["Signatures"]
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(
                f"{sig}: missing or not a signatures file", "run emtk3s render"
            ) from None
        for name, sha in sorted(sigs.items()):
            if name in seen and seen[name] != pkg:
                raise InputError(
                    f"Source basename {name} is used by both {seen[name]} and {pkg}",
                    "EMT's source server keys files by basename; rename one in its package",
                )
            seen[name] = pkg
            pinned = bool(re.fullmatch(r"[0-9a-f]{64}", str(sha)))
            path = cache.blob_path(sha) if pinned else None
            out.append(
                {
                    "package": pkg,
                    "name": name,
                    "sha256": sha,
                    "size": path.stat().st_size if path and path.is_file() else None,
                    "cached": bool(path and path.is_file()),
                    "pinned": pinned,
                }
            )
    return out


def copy_to(files: list[dict[str, Any]], dest: Path, cache: Cache) -> Path:
    """Copy every file under its basename into ``dest`` (flat, as the source server serves
    them) with a ``SHA256SUMS`` beside them; verified bytes only."""
    pending = [f["name"] for f in files if not f["pinned"]]
    if pending:
        raise IntegrityError(
            f"not pinned yet (generated, PENDING): {', '.join(pending)}",
            "run emtk3s fetch (or emtk3s vendor) with network, then render",
        )
    missing = [f["name"] for f in files if not f["cached"]]
    if missing:
        raise IntegrityError(
            f"{len(missing)} source(s) not in the cache {cache.root}: {', '.join(missing[:5])}",
            "run emtk3s fetch first",
        )
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        src = cache.get(f["sha256"], f["name"])
        tmp = dest / f".{f['name']}.tmp"
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest / f["name"])
    sums = "".join(f"{f['sha256']}  {f['name']}\n" for f in sorted(files, key=lambda x: x["name"]))
    (dest / ".SHA256SUMS.tmp").write_text(sums)
    os.replace(dest / ".SHA256SUMS.tmp", dest / "SHA256SUMS")
    return dest
