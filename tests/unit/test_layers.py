"""The import-layer contract (docs/architecture.md, "Layers"): every import points down, and the
modules import no cycle.

The checker is a small reader of the source with :mod:`ast` rather than import-linter: it needs
no dependency, sees imports inside functions (emtk3s imports lazily to start fast, and a lazy
upward import is still an upward arrow) and tells ``if TYPE_CHECKING:`` imports apart (a type
annotation may name a type of a sibling; it never runs). The last tests plant an upward import
and a cycle in a copy of the tree and check that the checker reports both.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "emtk3s"

#: top to bottom; a module may import its own layer and the layers below it. Names in one tuple
#: are one layer of independent parts: neither may import the other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("emtk3s.__main__",),
    ("emtk3s.cli",),
    ("emtk3s.workflows",),
    ("emtk3s.stages",),
    ("emtk3s.emt", "emtk3s.builders"),
    ("emtk3s.catalog",),
    ("emtk3s.packages",),
    ("emtk3s.model",),
    ("emtk3s.formats",),
    ("emtk3s.infra", "emtk3s"),
)


def _module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, modules: set[str], package: str) -> list[tuple[int, str, bool]]:
    """(line, imported emtk3s module, only for type checking) of every import in ``tree``."""
    out: list[tuple[int, str, bool]] = []

    def target(name: str) -> str | None:
        while name and name not in modules:  # a name from a module: the module
            name = name.rpartition(".")[0]
        return name or None

    def visit(node: ast.AST, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            flag = typing_only or (isinstance(child, ast.If) and _is_type_checking(child))
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: from the module's own package
                    up = package.rsplit(".", child.level - 1)[0] if child.level > 1 else package
                    base = f"{up}.{base}" if base else up
                names = [f"{base}.{a.name}" for a in child.names]
            else:
                visit(child, flag)
                continue
            for n in names:
                t = target(n) if n.startswith("emtk3s") else None
                if t is not None:
                    out.append((child.lineno, t, flag))

    visit(tree, False)
    return out


def import_graph(root: Path) -> dict[str, list[tuple[int, str, bool]]]:
    files = {_module_name(root, p): p for p in sorted(root.rglob("*.py"))}
    modules = set(files)
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = _imports(ast.parse(path.read_text(), str(path)), modules, package)
    return graph


def _layer(module: str) -> tuple[int, str]:
    """(layer index, the part of the layer) of a module: its longest matching prefix."""
    best: tuple[int, str] | None = None
    for i, parts in enumerate(LAYERS):
        for part in parts:
            if (module == part or module.startswith(part + ".")) and (
                best is None or len(part) > len(best[1])
            ):
                best = (i, part)
    assert best is not None, f"{module} is in no layer: add it to LAYERS and docs/architecture.md"
    return best


def upward_imports(root: Path) -> list[str]:
    out = []
    for mod, imports in import_graph(root).items():
        here, part = _layer(mod)
        for line, target, _typing in imports:
            there, other = _layer(target)
            if there < here or (there == here and other != part):
                out.append(f"{mod}:{line} imports {target} ({other} is not below {part})")
    return out


def cycles(root: Path) -> list[list[str]]:
    """Strongly connected groups of modules (runtime imports; parents' __init__ not counted)."""
    graph = {
        m: sorted({t for _, t, typing in imps if not typing and t != m})
        for m, imps in import_graph(root).items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, []):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_every_import_points_down() -> None:
    bad = upward_imports(ROOT)
    assert not bad, "imports against the layers (docs/architecture.md):\n" + "\n".join(bad)


def test_no_import_cycle() -> None:
    assert cycles(ROOT) == []


def test_every_module_is_in_a_layer() -> None:
    for mod in import_graph(ROOT):
        _layer(mod)


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "emtk3s"
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns("__pycache__", "data"))
    return root


def test_checker_finds_a_planted_upward_import(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    assert upward_imports(root) == []
    planted = root / "model" / "planted.py"
    planted.write_text("def f():\n    from emtk3s.cli.runner import run\n\n    return run\n")
    assert upward_imports(root) == [
        "emtk3s.model.planted:2 imports emtk3s.cli.runner (emtk3s.cli is not below emtk3s.model)"
    ]
    planted.write_text("from emtk3s.builders import graph\n")  # a sibling part of its layer
    (root / "emt" / "planted.py").write_text("from emtk3s.builders import graph\n")
    planted.unlink()
    assert upward_imports(root) == [
        "emtk3s.emt.planted:1 imports emtk3s.builders.graph "
        "(emtk3s.builders is not below emtk3s.emt)"
    ]


def test_checker_finds_a_planted_cycle(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "model" / "a_planted.py").write_text("from emtk3s.model import b_planted\n")
    (root / "model" / "b_planted.py").write_text(
        "from typing import TYPE_CHECKING\ndef f():\n    from emtk3s.model.a_planted import x\n"
    )
    assert cycles(root) == [["emtk3s.model.a_planted", "emtk3s.model.b_planted"]]
    # the same arrow only for type checking is no cycle
    (root / "model" / "b_planted.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from emtk3s.model.a_planted import x\n"
    )
    assert cycles(root) == []
