"""The one JSON encoder for results (``--json``, partial results on errors, chain-last.json).

A result is a dataclass: its fields are its JSON keys. A field's ``metadata`` may say
``json=False`` (left out), ``json=<callable>`` (the value is transformed first) or
``json_name="..."`` (another key), ``json_omit_none=True`` (left out while None).
``JSON_EXTRA`` on the class names properties to add. Enums are their values, paths strings.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from enum import Enum
from pathlib import PurePath
from typing import Any


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON values (dict, list, str, int, float, bool, None)."""
    if isinstance(obj, Enum):
        return jsonable(obj.value)
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, PurePath):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            how = f.metadata.get("json", True)
            if how is False:
                continue
            value = getattr(obj, f.name)
            if value is None and f.metadata.get("json_omit_none"):
                continue
            out[f.metadata.get("json_name", f.name)] = jsonable(
                how(value) if callable(how) else value
            )
        for name in getattr(type(obj), "JSON_EXTRA", ()):
            out[name] = jsonable(getattr(obj, name))
        return out
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, set | frozenset):
        return sorted(jsonable(v) for v in obj)
    raise TypeError(f"no JSON form for {type(obj).__name__}")


def dumps(obj: Any) -> str:
    return json.dumps(jsonable(obj), indent=2, sort_keys=True)
