"""toolkit/imageconfigs/packagelists/k3s.json: our runtime packages (merged, never dropped)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from emtk3s.emt import checkout, jsontext

if TYPE_CHECKING:
    from emtk3s.emt.plan import Plan

PACKAGE_LIST = "packagelists/k3s.json"
IMAGECONFIGS = "toolkit/imageconfigs"


def update(p: Plan, pkgs: list[str], runtime: tuple[str, ...]) -> None:
    """Add the runtime packages (``Catalog.runtime_packages``) among ``pkgs`` to the list."""
    rel = f"{IMAGECONFIGS}/{PACKAGE_LIST}"
    path = checkout.safe_path(p.root, rel, "package list")
    shape = 'an object with "packages": [ "name", ... ]'
    if path.exists():
        data, text = checkout.load_json(path, shape)
        p.old[rel] = text.encode()
        if isinstance(data, dict) and "packages" not in data:
            node = jsontext.parse(text)
            text = jsontext.set_key(text, node, "packages", [])
            data = json.loads(text)
        checkout.string_list(path, data, "packages", shape)
    else:
        text = '{\n    "packages": []\n}\n'
    for pkg in pkgs:
        node = jsontext.parse(text)
        arr = node.children[node.keys.index("packages")]
        if pkg in runtime and pkg not in arr.value:
            text = jsontext.insert(text, arr, len(arr.children), pkg)
    p.change.files[rel] = text.encode()
