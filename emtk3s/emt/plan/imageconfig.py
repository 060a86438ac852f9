"""An image config under toolkit/imageconfigs: our package list added to the PackageLists of
each of its SystemConfigs (the file edited as text: the diff shows only our change)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from emtk3s.emt import checkout, jsontext
from emtk3s.emt.plan.packagelists import IMAGECONFIGS, PACKAGE_LIST
from emtk3s.infra.errors import InputError

if TYPE_CHECKING:
    from emtk3s.emt.plan import Plan


def update(p: Plan, image: str) -> None:
    rel = f"{IMAGECONFIGS}/{image}"
    path = checkout.safe_path(p.root, rel, "--image-config")
    if not image.endswith(".json"):
        raise InputError(f"--image-config {image!r}: not a .json file", "name an image config")
    shape = 'an object with "SystemConfigs": [ {"PackageLists": [ "..." ]} ]'
    data, text = checkout.load_json(path, shape)
    if not isinstance(data, dict) or not isinstance(data.get("SystemConfigs", []), list):
        raise checkout.bad_shape(path, shape)
    p.old[rel] = text.encode()
    for i, sc in enumerate(data.get("SystemConfigs", [])):
        if not isinstance(sc, dict):
            raise checkout.bad_shape(path, shape)
        node = jsontext.parse(text)
        scs = node.children[node.keys.index("SystemConfigs")]
        sc_node = scs.children[i]
        if "PackageLists" not in sc:
            text = jsontext.set_key(text, sc_node, "PackageLists", [PACKAGE_LIST])
            continue
        lists = checkout.string_list(path, sc, "PackageLists", shape)
        if PACKAGE_LIST not in lists:
            arr = sc_node.children[sc_node.keys.index("PackageLists")]
            text = jsontext.insert(text, arr, len(arr.children), PACKAGE_LIST)
    p.change.files[rel] = text.encode()
