"""Stage stamps: what inputs produced an output, so an unchanged stage is skipped."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from emtk3s.infra.fsutil import write_if_changed


def digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        b = p.encode() if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "big"))
        h.update(b)
    return h.hexdigest()


def load(state_dir: Path, stage: str, pkg: str) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((state_dir / f"{stage}-{pkg}.json").read_text())
        return data
    except (FileNotFoundError, ValueError):
        return None


def save(state_dir: Path, stage: str, pkg: str, data: dict[str, Any]) -> None:
    write_if_changed(
        state_dir / f"{stage}-{pkg}.json", json.dumps(data, indent=2, sort_keys=True).encode()
    )
