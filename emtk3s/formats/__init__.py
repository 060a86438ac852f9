"""The file formats emtk3s reads, as JSON schemas, and the check their readers make.

``release.schema.json`` (release.toml, read as a table) and ``lock.schema.json`` (emtk3s.lock)
are package data: the one description of each format (docs/formats.md explains them), shipped
in the wheel because every read checks against them. The checks run through validators
generated from the schemas by fastjsonschema (``_release_validator.py``,
``_lock_validator.py``, written by ``tools/make_format_validators.py``; a unit test fails when
they drift from the schemas): a valid file costs well under a millisecond and no schema
compilation at start-up. A file that does not fit is one InputError (exit 2) naming the file,
the field, the value and what it must be.
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

from emtk3s.infra.errors import InputError

#: format -> its schema file (package data beside this module)
SCHEMAS = {"release": "release.schema.json", "lock": "lock.schema.json"}
DOCS = "docs/formats.md"


def schema(kind: str) -> dict[str, Any]:
    """The schema itself (the docs and the tests read it; a check needs only the validator)."""
    from importlib.resources import files  # loaded only here: it costs start-up time

    data: dict[str, Any] = json.loads(files(__name__).joinpath(SCHEMAS[kind]).read_text())
    return data


def check(kind: str, data: object, where: str) -> None:
    """Raise InputError unless ``data`` (the parsed file ``where``) fits the ``kind`` schema."""
    from fastjsonschema import JsonSchemaValueException

    validator = importlib.import_module(f"{__name__}._{kind}_validator")
    try:
        validator.validate(data)
    except JsonSchemaValueException as exc:
        message, hint = explain(exc, where, kind)
        if kind == "lock":  # written by emtk3s: the fix is never a hand edit
            hint = FIXES["lock"].format(where=where) + f"; see {DOCS}"
        raise InputError(message, hint) from None


def _field(name: str | None) -> str:
    """fastjsonschema's "data.release.arches[0]" -> "release.arches[0]" ("" for the top)."""
    name = name or "data"
    return name[len("data.") :] if name.startswith("data.") else name.removeprefix("data")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _joined(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


#: how to fix a file that does not fit: release.toml is written by hand, the lock by emtk3s
FIXES = {
    "release": "fix {field} in {where}",
    "lock": "restore {where} from git or re-create it with emtk3s resolve",
}


def explain(exc: Any, where: str, kind: str = "release") -> tuple[str, str]:
    """The one-line message (file, field, value, what it must be) and the fix."""
    field = _field(exc.name)
    definition = exc.definition if isinstance(exc.definition, dict) else {}
    value = exc.value
    props = definition.get("properties", {})
    if exc.rule == "required" and isinstance(value, dict):
        missing = next((k for k in definition.get("required", []) if k not in value), "?")
        full = _joined(field, missing)
        what = props.get(missing, {}).get("description")
        add = f"add {full}" + (f", {what}" if what else "")
        return f"{where}: {full} is missing", f"{add}; see {DOCS}"
    if exc.rule == "additionalProperties" and isinstance(value, dict):
        extra = next((k for k in sorted(value) if k not in props), "?")
        known = ", ".join(sorted(props))
        return (
            f"{where}: unknown key {_joined(field, str(extra))}",
            f"use one of {known}; see {DOCS}" if known else f"remove it; see {DOCS}",
        )
    fix = FIXES[kind].format(field=field or "it", where=where) + f"; see {DOCS}"
    if exc.rule == "propertyNames" and isinstance(value, dict):
        names = definition.get("propertyNames", {})
        pattern = re.compile(names.get("pattern", "^$"))
        key = next((k for k in sorted(value) if not pattern.search(k)), "?")
        what = names.get("description", "a name of letters, digits and + . _ -")
        return f"{where}: {field}: key {_show(key)} is not {what}", f"rename it; see {DOCS}"
    what = definition.get("description")
    if what:
        return f"{where}: {field} = {_show(value)} is not {what}", fix
    return f"{where}: {exc.message.replace('data.', '', 1)}", fix
