"""The layout keeps packages in their folders (issue 10 item 4): no module outside
``emtk3s/packages/`` names a package or a component. Stages, builders, the EMT integration and
the model read package descriptions only, so adding a package is a new folder and nothing else
(docs/adding-a-package.md).

The one name allowed everywhere is the product's: the component every lock has (``always``, the
K3s tag release.toml names as ``k3s``)."""

from __future__ import annotations

import re
from pathlib import Path

from emtk3s.model.package import COMPONENTS, PACKAGES

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


def test_discovery_does_not_depend_on_import_order() -> None:
    # a package folder imported first (it imports the model, which discovers the folders)
    # must still be discovered itself
    import subprocess
    import sys

    code = (
        "import emtk3s.packages.k3s.upstream\n"
        "from emtk3s.model.package import PACKAGES\n"
        "print(' '.join(sorted(PACKAGES)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == sorted(PACKAGES)
