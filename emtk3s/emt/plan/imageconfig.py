"""An image config under toolkit/imageconfigs: our package list added to the PackageLists of
each of its SystemConfigs (the file edited as text: the diff shows only our change)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


#: the package list of the edge orchestrator's agents: a host that runs them is managed by the
#: orchestrator, which provisions K3s on it through Cluster API
AGENTS_LIST = "packagelists/agents-packages.json"
#: where Cluster API's K3s provider runs the installer (airGappedInstallScriptPath's default)
CAPI_MOUNT = "/opt"


def carries_k3s(path: Path) -> tuple[bool, str]:
    """The rule for which edge image configs carry K3s, and why (shown in the dry run): an
    ``edge-image*.json`` with a system config that lists the orchestrator's agents and mounts a
    ``/opt`` partition (where the k3s RPM puts CAPI's ``/opt/install.sh``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False, "not a readable JSON image config"
    scs = data.get("SystemConfigs") if isinstance(data, dict) else None
    configs: list[Any] = scs if isinstance(scs, list) else []
    for sc in configs:
        if not isinstance(sc, dict):
            continue
        raw_lists, raw_parts = sc.get("PackageLists"), sc.get("PartitionSettings")
        lists: list[Any] = raw_lists if isinstance(raw_lists, list) else []
        parts: list[Any] = raw_parts if isinstance(raw_parts, list) else []
        agents = AGENTS_LIST in lists
        opt = any(isinstance(p, dict) and p.get("MountPoint") == CAPI_MOUNT for p in parts)
        if agents and opt:
            return True, f"lists {AGENTS_LIST} and mounts {CAPI_MOUNT}"
        if agents:
            return False, f"lists {AGENTS_LIST} but mounts no {CAPI_MOUNT} partition"
    return False, f"does not list {AGENTS_LIST}: not an orchestrated host"


def choose(emt: Path) -> tuple[list[str], list[str]]:
    """The edge image configs that carry K3s, and one line per edge image config saying why."""
    chosen, why = [], []
    for path in sorted((emt / IMAGECONFIGS).glob("edge-image*.json")):
        yes, reason = carries_k3s(path)
        if yes:
            chosen.append(path.name)
        why.append(f"image {path.name}: {'K3s' if yes else 'no K3s'} ({reason})")
    return chosen, why
