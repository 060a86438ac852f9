"""cgmanifest.json: one registration per (name, version) we ship; a registration is removed only
when it was for a spec this change removes or replaces, never one another spec still uses.

Written as EMT's own toolkit/scripts/update_cgmanifest.py writes it: the registrations sorted by
name (case-insensitive), then by rpm's version order (``rpm.labelCompare`` with a dummy epoch
and release), and ``json.dump(indent=2)`` plus a newline. EMT's cgmanifest.json is kept in that
form, so the pull request's diff is our registrations only."""

from __future__ import annotations

import json
from functools import cmp_to_key
from typing import TYPE_CHECKING, Any

from emtk3s.emt import checkout
from emtk3s.model.versions import evr_compare

if TYPE_CHECKING:
    from emtk3s.emt.plan import Plan

CGMANIFEST = "cgmanifest.json"


def _cg_name(reg: Any) -> tuple[str, str] | None:
    other = reg.get("component", {}).get("other") if isinstance(reg, dict) else None
    if not isinstance(other, dict) or not isinstance(other.get("name"), str):
        return None
    return other["name"], str(other.get("version", ""))


def _compare(a: Any, b: Any) -> int:
    """update_cgmanifest.py's order: name.lower(), then rpm's version order."""
    na, nb = _cg_name(a) or ("", ""), _cg_name(b) or ("", "")
    if na[0].lower() != nb[0].lower():
        return -1 if na[0].lower() < nb[0].lower() else 1
    return evr_compare(na[1], nb[1])


def sort_key() -> Any:
    return cmp_to_key(_compare)


def dumps(cg: dict[str, Any]) -> str:
    """The file as update_cgmanifest.py writes it."""
    cg["Registrations"].sort(key=sort_key())
    return json.dumps(cg, indent=2) + "\n"


def update(p: Plan, fields: dict[str, tuple[str, str, str]], removed: dict[str, list[str]]) -> None:
    path = checkout.safe_path(p.root, CGMANIFEST, "cgmanifest")
    shape = 'an object with "Registrations": [ {"component": {...}} ]'
    cg, text = checkout.load_json(path, shape)
    if not isinstance(cg, dict) or not isinstance(cg.get("Registrations"), list):
        raise checkout.bad_shape(path, shape)
    if not all(isinstance(r, dict) for r in cg["Registrations"]):
        raise checkout.bad_shape(path, shape)
    p.old[CGMANIFEST] = text.encode()
    # the (name, version) pairs some spec still uses after this change
    kept_versions: dict[str, set[str]] = {}
    for pkg in fields:
        kept_versions[pkg] = {
            ex.version
            for ex in checkout.find_specs(p.root, pkg)
            if ex.dir != f"SPECS/{pkg}" and ex.dir not in removed.get(pkg, [])
        }
    regs: list[Any] = cg["Registrations"]
    for pkg, (name, version, url) in sorted(fields.items()):
        entry = {
            "component": {
                "type": "other",
                "other": {"name": name, "version": version, "downloadUrl": url},
            }
        }
        # ours (same name and version): replaced in place
        idx = next((i for i, r in enumerate(regs) if _cg_name(r) == (name, version)), None)
        if idx is not None:
            regs[idx] = entry
            continue
        # registrations of this name no spec uses any more (ours of an older version, or the
        # copy --replace removes) go; every other stays
        regs[:] = [
            r
            for r in regs
            if not ((nv := _cg_name(r)) and nv[0] == name and nv[1] not in kept_versions[pkg])
        ]
        regs.append(entry)
    p.change.files[CGMANIFEST] = dumps(cg).encode()
