"""Facts from a buildroot tag together with the k3s-root tag that pins it: everything buildroot's
own ``make show-info`` knows for k3s-root's configuration (see showinfo.py) — each package's
version (k3s-root's overlay included), every download with the hash buildroot records for it in
that package's own hash file, licenses — and k3s-root's License: tag derived from them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from emtk3s.infra import checks
from emtk3s.infra.errors import InputError

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout
    from emtk3s.model.release import Release

#: k3s-root's own license (its LICENSE file), first term of the package's License: tag
K3S_ROOT_LICENSE = "Apache-2.0"


def read_facts(co: TagCheckout) -> dict[str, Any]:
    """What the buildroot tree alone says (the rest needs k3s-root's tree: :func:`derived`)."""
    return {"tree": co.info.tag}


def derived(co: TagCheckout, checkouts: dict[str, TagCheckout], release: Release) -> dict[str, Any]:
    # show-info's runner and the license readers load when resolve runs them, not at start-up
    from emtk3s.packages.k3s_root import licenses as lic
    from emtk3s.packages.k3s_root import showinfo

    kr = checkouts.get("k3s-root")
    if kr is None:
        raise InputError("buildroot is resolved without k3s-root", "resolve k3s-root first")
    arches = sorted(release.arches)
    info = showinfo.show_info_facts(co, kr, arches)
    packages = {}
    for name, data in sorted(info["licenses"].items()):
        try:  # a version that is no tag (a file name, a query) pins nothing
            packages[name] = checks.tag(str(data.get("version") or ""), f"{name} version")
        except InputError:
            continue
    downloaders = {p for d in info["downloads"] for p in d["packages"]}
    chosen = dict(release.licenses)
    rows = lic.mapping(info["licenses"], downloaders, chosen)
    unknown = sorted(set(chosen) - {r["package"] for r in rows})
    if unknown:
        raise InputError(
            f"release.toml: [licenses] {unknown[0]}: k3s-root {kr.info.tag} builds no such "
            "buildroot package from downloaded code",
            "use a package name validate lists (emtk3s validate --json: licenses)",
        )
    return {
        "packages": packages,
        "downloads": info["downloads"],
        "licenses": info["licenses"],
        # each term a note of its own (an SPDX term holds spaces: `X WITH Y`, `(A OR B)`)
        "license": [
            {"_term": t}
            for t in lic.license_terms(info["licenses"], downloaders, K3S_ROOT_LICENSE, chosen)
        ],
        # how buildroot's text became those terms (validate shows it)
        "license_map": [
            {
                "package": r["package"],
                "_text": r["text"],
                "terms": [{"_term": t} for t in r["terms"]],
                "unmapped": [{"_part": u} for u in r["unmapped"]],
                "overridden": r["overridden"],
            }
            for r in rows
        ],
        "host_tools": info["host_tools"],
        "show_info": info["show_info"],
    }
