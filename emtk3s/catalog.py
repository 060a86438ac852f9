"""The one registry of what emtk3s builds: :func:`load` reads the package folders that
``emtk3s/packages/__init__.py`` lists (each one's ``COMPONENTS`` and ``PACKAGE``, and the
packages' ``MIRRORS``) into a frozen :class:`~emtk3s.model.package.Catalog`, which is then
passed to whatever needs it. Nothing is discovered on import, and no module-level table is
filled as a side effect."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the model is imported when the catalog is loaded, not for --help
    from emtk3s.model.package import Catalog, ComponentDef, PackageDef

__all__ = ["BASE_MIRRORS", "load", "mirrors"]

#: Upstream bases every release has. Users point these at mirrors; tests at 127.0.0.1. A package
#: package may add its own (emtk3s.packages.MIRRORS).
BASE_MIRRORS = MappingProxyType(
    {
        "github": "https://github.com",
        "raw": "https://raw.githubusercontent.com",
        "k3s_charts": "https://k3s.io/k3s-charts",
    }
)


def mirrors() -> Mapping[str, str]:
    """Every mirror name with its default base, without importing a package (for --help)."""
    from emtk3s import packages

    return MappingProxyType({**BASE_MIRRORS, **packages.MIRRORS})


@cache
def load() -> Catalog:
    """The catalog of the package folders ``emtk3s.packages.FOLDERS`` names (read once)."""
    import importlib  # here, not at the top: --help imports this module for the mirror names
    from dataclasses import replace
    from pathlib import Path

    from emtk3s import packages
    from emtk3s.model.package import Catalog

    comps: dict[str, ComponentDef] = {}
    pkgs: dict[str, PackageDef] = {}
    for name in packages.FOLDERS:
        mod = importlib.import_module(f"{packages.__name__}.{name}")
        if hasattr(mod, "MIRRORS"):  # would be ignored: --help names mirrors without packages
            raise RuntimeError(
                f"{mod.__name__}.MIRRORS: declare a package's download sites in "
                "emtk3s/packages/__init__.py MIRRORS"
            )
        for c in getattr(mod, "COMPONENTS", ()):
            if c.name in comps and comps[c.name] is not c:
                raise RuntimeError(f"component {c.name} is defined twice ({mod.__name__})")
            comps[c.name] = c
        pkg = getattr(mod, "PACKAGE", None)
        if pkg is not None:
            pkgs[pkg.name] = replace(pkg, home=Path(str(mod.__file__)).parent)
    return Catalog(MappingProxyType(comps), MappingProxyType(pkgs), mirrors())
