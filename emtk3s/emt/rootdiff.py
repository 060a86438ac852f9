"""root-diff: the binaries a package's tree bundles from other projects (its description's
``bundle``) against EMT's SPECS (and a toolchain chroot): which EMT already ships, at which
version, and what needs doing. The bundled versions come from the lock, through the bundle."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emtk3s.emt import checkout
from emtk3s.infra.errors import InputError
from emtk3s.model.lock import Lock
from emtk3s.model.package import Bundle, Catalog
from emtk3s.model.versions import evr_compare


def bundle(catalog: Catalog) -> Bundle:
    """The bundle of the (first) package whose description has one."""
    for pdef in catalog.select([]):
        if pdef.bundle is not None:
            return pdef.bundle
    raise InputError("no package describes a bundle", "root-diff needs a package with bundle=")


@dataclass
class Row:
    binary: str
    package: str
    kind: str
    in_chroot: bool | None
    spec: str  # EMT spec path relative to the checkout, "" if none
    emt_version: str
    bundled_version: str
    action: str
    key: str  # the bundle's key: the JSON names the bundled version <key>_version


def _find_spec(emt: Path, name: str) -> tuple[str, str] | None:
    """(path relative to the checkout, version) of the newest spec of that name in any SPECS*."""
    found = checkout.find_specs(emt, name)
    if not found:
        return None
    best = found[0]
    for ex in found[1:]:
        if evr_compare(ex.version, best.version) > 0:
            best = ex
    return best.rel, best.version


def _in_chroot(chroot: Path, binary: str) -> bool:
    name = binary.rsplit("/", 1)[-1]
    return any(
        (chroot / d / name).exists() or (chroot / d / name).is_symlink()
        for d in ("usr/bin", "usr/sbin", "bin", "sbin")
    )


def root_diff(
    lock: Lock, emt: Path, catalog: Catalog, chroot: Path | None = None
) -> dict[str, Any]:
    emt = checkout.require(emt)
    b = bundle(catalog)
    versions = b.versions(lock.components)
    rows = []
    spec_cache: dict[str, tuple[str, str]] = {}
    for binary, pkg, kind in ((x.path, x.project, x.kind) for x in b.binaries):
        emt_name = b.emt_names.get(pkg, pkg)
        if emt_name not in spec_cache:
            spec_cache[emt_name] = _find_spec(emt, emt_name) or ("", "")
        spec_rel, emt_v = spec_cache[emt_name]
        ours = versions.get(pkg, "unknown")
        if not spec_rel and emt_name in lock.packages:  # emtk3s renders that package itself
            action = f"shipped by emtk3s ({emt_name})"
        elif not spec_rel:
            action = "new RPM needed"
        elif ours == "unknown" or emt_v in ("", "?"):
            action = "check by hand"
        else:
            cmp = evr_compare(emt_v, ours)
            action = (
                "none (EMT same)"
                if cmp == 0
                else "none (EMT newer)"
                if cmp > 0
                else "EMT older: update"
            )
        rows.append(
            Row(
                binary,
                pkg,
                kind,
                _in_chroot(chroot, binary) if chroot else None,
                spec_rel,
                emt_v,
                ours,
                action,
                b.key,
            )
        )
    counts = {
        "total": len(rows),
        "direct": sum(r.kind == "direct" for r in rows),
        "links": sum(r.kind == "link" for r in rows),
        "overlapped": sum(bool(r.spec) or bool(r.in_chroot) for r in rows),
        "missing": sum(not r.spec and not r.in_chroot for r in rows),
    }
    return {
        **b.header(lock.components),
        "counts": counts,
        "binaries": [_row_record(r) for r in rows],
    }


def _row_record(row: Row) -> dict[str, Any]:
    """A row of the report: the bundled version under ``<bundle key>_version``."""
    d = dict(vars(row))
    d[f"{d.pop('key')}_version"] = d.pop("bundled_version")
    return d


def markdown(report: dict[str, Any], catalog: Catalog) -> str:
    c = report["counts"]
    b = bundle(catalog)
    name = b.key.replace("_", "-")
    out = [
        f"# {b.title.format(**report)} against EMT",
        "",
        "| total | direct | links | overlapped | missing |",
        "|---|---|---|---|---|",
        f"| {c['total']} | {c['direct']} | {c['links']} | {c['overlapped']} | {c['missing']} |",
        "",
        f"| binary | package | kind | in chroot | spec present | EMT version | {name} version | action needed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report["binaries"]:
        chroot = "-" if r["in_chroot"] is None else ("yes" if r["in_chroot"] else "no")
        out.append(
            f"| {r['binary']} | {r['package']} | {r['kind']} | {chroot} | {r['spec'] or 'no'} | "
            f"{r['emt_version'] or '-'} | {r[f'{b.key}_version']} | {r['action']} |"
        )
    return "\n".join(out) + "\n"
