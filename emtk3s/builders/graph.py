"""The build graph: which package needs which, from the specs' BuildRequires and Provides
(parsed with the rpm bindings, EMT macros loaded). Written to .emtk3s/graph.json so the stage
can be inspected and rerun alone."""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emtk3s.infra.errors import InputError, PreconditionError
from emtk3s.infra.fsutil import write_if_changed
from emtk3s.infra.paths import Project
from emtk3s.infra.rpm import macros as emt_macros
from emtk3s.infra.rpm.spec import read_many as read_specs


@dataclass
class Node:
    name: str  # the spec's (source package's) name
    spec: Path
    build_requires: list[str]
    provides: list[str]  # names of binary packages and their Provides
    deps: list[str] = field(default_factory=list)  # nodes that must be built first


@dataclass
class Graph:
    nodes: dict[str, Node]

    def order(self) -> list[str]:
        """A topological order (dependencies first), stable by name."""
        done: list[str] = []
        state: dict[str, int] = {}

        def visit(n: str, path: list[str]) -> None:
            if state.get(n) == 2:
                return
            if state.get(n) == 1:
                cycle = path[path.index(n) :] + [n]
                raise InputError(
                    f"build cycle: {' -> '.join(cycle)}",
                    "break it (e.g. a bootstrap build with fewer BuildRequires)",
                )
            state[n] = 1
            for d in sorted(self.nodes[n].deps):
                visit(d, path + [n])
            state[n] = 2
            done.append(n)

        for n in sorted(self.nodes):
            visit(n, [])
        return done

    def dependents(self, name: str) -> set[str]:
        out: set[str] = set()
        todo = [name]
        while todo:
            cur = todo.pop()
            for n in self.nodes.values():
                if cur in n.deps and n.name not in out:
                    out.add(n.name)
                    todo.append(n.name)
        return out

    def record(self) -> dict[str, Any]:
        """What .emtk3s/graph.json holds: the build order and each node."""
        return {
            "order": self.order(),
            "nodes": {
                n.name: {
                    "spec": str(n.spec),
                    "build_requires": n.build_requires,
                    "provides": n.provides,
                    "deps": sorted(n.deps),
                }
                for n in sorted(self.nodes.values(), key=lambda x: x.name)
            },
        }

    def save(self, path: Path) -> None:
        write_if_changed(
            path,
            (json.dumps(self.record(), indent=2, sort_keys=True) + "\n").encode(),
            durable=False,  # made again from the specs
        )


def read_node(spec: Path) -> Node:
    """The graph node of one spec, parsed by the rpm bindings in the sandbox."""
    return read_nodes([spec])[0]


def read_nodes(specs: list[Path]) -> list[Node]:
    """Each spec's node, parsed in one sandboxed run (infra/rpm/spec.py): a spec in SPECS/ may
    be anyone's, and its ``%(...)`` runs while it is parsed."""
    return [
        Node(info.name, spec, list(info.build_requires), list(info.provides))
        for spec, info in zip(specs, read_specs(specs), strict=True)
    ]


def _memo_key(spec: Path, macros: bytes) -> str:
    h = hashlib.sha256(f"{platform.machine()}\0{spec}\0".encode())
    h.update(macros + b"\0" + spec.read_bytes())
    return h.hexdigest()


def _load_memo(memo: Path | None) -> dict[str, Any]:
    if memo is None:
        return {}
    try:
        data = json.loads(memo.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def plan(specs: list[Path], memo: Path | None = None) -> Graph:
    """The graph of ``specs``. ``memo``: a file remembering each spec's parse by the digest of
    its bytes (and the macros and arch), so an unchanged project does not load the rpm bindings
    to plan a build that has nothing to do."""
    nodes: dict[str, Node] = {}
    cached, seen = _load_memo(memo), {}
    macros = emt_macros.data() if memo is not None else b""
    keys = [_memo_key(spec, macros) if memo is not None else "" for spec in specs]
    wanted = {"name", "build_requires", "provides"}
    misses = [
        s
        for s, k in zip(specs, keys, strict=True)
        if not (isinstance(cached.get(k), dict) and wanted <= cached[k].keys())
    ]
    parsed = dict(zip(misses, read_nodes(misses), strict=True))  # one sandboxed run
    for spec, key in zip(specs, keys, strict=True):
        hit = cached.get(key)
        if spec in parsed:
            node = parsed[spec]
        else:
            assert isinstance(hit, dict)
            node = Node(hit["name"], spec, list(hit["build_requires"]), list(hit["provides"]))
        seen[key] = {
            "name": node.name,
            "build_requires": node.build_requires,
            "provides": node.provides,
        }
        if node.name in nodes:
            raise InputError(f"two specs build {node.name}: {nodes[node.name].spec} and {spec}", "")
        nodes[node.name] = node
    provider: dict[str, str] = {}
    for n in nodes.values():
        for p in n.provides:
            provider.setdefault(p, n.name)
    for n in nodes.values():
        n.deps = sorted(
            {provider[r] for r in n.build_requires if r in provider and provider[r] != n.name}
        )
    g = Graph(nodes)
    g.order()  # raises on a cycle, naming its members
    if memo is not None and seen != cached:
        write_if_changed(
            memo, (json.dumps(seen, indent=1, sort_keys=True) + "\n").encode(), durable=False
        )
    return g


def specs_in(specs_dir: Path, packages: list[str] | None = None) -> list[Path]:
    names = packages or sorted(
        p.name for p in specs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    out = []
    for n in names:
        spec = specs_dir / n / f"{n}.spec"
        if not spec.is_file():
            raise PreconditionError(f"{spec}: no such spec", "run emtk3s render first")
        out.append(spec)
    return out


def for_project(project: Project, packages: list[str] | None = None) -> Graph:
    """The build graph of a project's SPECS/ (the named packages, else all), planned with the
    project's spec memo and saved as ``.emtk3s/graph.json``: what ``build``, ``all`` and
    ``chain`` plan with."""
    state = project.root / ".emtk3s"
    graph = plan(specs_in(project.specs, packages), memo=state / "spec-nodes.json")
    graph.save(state / "graph.json")
    return graph
