"""The changelog history (changelog.json in the project): entries that `bump` adds, newest
first, per package. render puts them under the entry of the current version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from emtk3s.infra.errors import InputError

CHANGELOG_FILE = "changelog.json"


def load_history(project_root: Path) -> dict[str, list[dict[str, Any]]]:
    path = project_root / CHANGELOG_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise InputError(f"{path}: not valid JSON", "restore it from git") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise InputError(f"{path}: not a map of package -> list of entries", "restore it from git")
    return data
