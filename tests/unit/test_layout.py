"""The layout keeps packages in their folders: no module outside
``emtk3s/packages/`` names a package or a component. Stages, builders, the EMT integration and
the model read package descriptions only, so adding a package is a new folder and nothing else
(docs/adding-a-package.md).

The one name allowed everywhere is the product's: the component every lock has (``always``, the
K3s tag release.toml names as ``k3s``)."""

from __future__ import annotations

import re
from pathlib import Path

from emtk3s import catalog

CATALOG = catalog.load()
COMPONENTS, PACKAGES = CATALOG.components, CATALOG.packages

ROOT = Path(__file__).resolve().parents[2] / "emtk3s"


def _names() -> set[str]:
    product = {c.name for c in COMPONENTS.values() if c.always}
    names = (set(PACKAGES) | set(COMPONENTS)) - product
    return {n for name in names for n in (name, name.replace("-", "_"))}


def test_no_module_outside_packages_names_a_package() -> None:
    names = _names()
    assert {"k3s-root", "buildroot", "slirp4netns", "fuse_overlayfs"} <= names
    pattern = re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)), re.I)
    hits = []
    for f in sorted(ROOT.rglob("*")):
        if (
            not f.is_file()
            or f.suffix not in (".py", ".j2")
            or "packages" in f.relative_to(ROOT).parts[:1]
        ):
            continue
        for no, line in enumerate(f.read_text().splitlines(), 1):
            m = pattern.search(line)
            if m:
                hits.append(f"{f.relative_to(ROOT.parent)}:{no}: {m.group(0)}: {line.strip()}")
    assert not hits, "package names outside emtk3s/packages/:\n" + "\n".join(hits)


def test_every_package_is_a_folder_with_its_template() -> None:
    for name, pdef in PACKAGES.items():
        assert pdef.home is not None and pdef.home.parent == ROOT / "packages"
        assert (pdef.template_dir() / f"{name}.spec.j2").is_file()


def test_catalog_lists_every_package_folder() -> None:
    """packages/__init__.py is the one list: a folder missing from it is not a package; and
    the mirror names --help shows without importing a package are the catalog's."""
    folders = {
        d.name
        for d in (ROOT / "packages").iterdir()
        if d.is_dir() and (d / "__init__.py").is_file()
    }
    homes = {p.home.name for p in PACKAGES.values() if p.home is not None}
    assert homes == folders
    assert dict(catalog.mirrors()) == dict(CATALOG.mirrors)


def test_importing_the_model_discovers_nothing() -> None:
    """The model is values only: importing it imports no package folder and no catalog."""
    import subprocess
    import sys

    code = (
        "import sys, emtk3s.model.release, emtk3s.model.lock, emtk3s.model.package\n"
        "print(sorted(m for m in sys.modules if m.startswith(('emtk3s.packages', 'emtk3s.catalog'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
