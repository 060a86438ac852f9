"""cgmanifest.json: one registration per (name, version) we ship; a registration is removed only
when it was for a spec this change removes or replaces, never one another spec still uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emtk3s.emt import checkout, jsontext

if TYPE_CHECKING:
    from emtk3s.emt.plan import Plan

CGMANIFEST = "cgmanifest.json"


def _cg_name(reg: Any) -> tuple[str, str] | None:
    other = reg.get("component", {}).get("other") if isinstance(reg, dict) else None
    if not isinstance(other, dict) or not isinstance(other.get("name"), str):
        return None
    return other["name"], str(other.get("version", ""))


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
    for pkg, (name, version, url) in sorted(fields.items()):
        entry = {
            "component": {
                "type": "other",
                "other": {"name": name, "version": version, "downloadUrl": url},
            }
        }
        node = jsontext.parse(text)
        regs_node = node.children[node.keys.index("Registrations")]
        regs = regs_node.value
        # ours (same name and version): replaced in place
        idx = next((i for i, r in enumerate(regs) if _cg_name(r) == (name, version)), None)
        if idx is not None:
            if regs[idx] != entry:
                text = jsontext.replace(text, regs_node.children[idx], entry)
            continue
        # registrations of this name no spec uses any more (ours of an older version, or the
        # copy --replace removes) go; every other stays
        stale = [
            i
            for i, r in enumerate(regs)
            if (nv := _cg_name(r)) and nv[0] == name and nv[1] not in kept_versions[pkg]
        ]
        pos = next(
            (i for i, r in enumerate(regs) if (nv := _cg_name(r)) and nv > (name, version)),
            len(regs),
        )
        text = jsontext.insert(text, regs_node, pos, entry)
        for i in sorted(stale, reverse=True):
            node = jsontext.parse(text)
            regs_node = node.children[node.keys.index("Registrations")]
            text = jsontext.remove(text, regs_node, i if i < pos else i + 1)
    p.change.files[CGMANIFEST] = text.encode()
