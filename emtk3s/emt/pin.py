"""Pin a generated source from EMT's own public record.

EMT publishes the sha256 of every source its specs use (``SPECS/<pkg>/<pkg>.signatures.json``)
and hosts those files on its source server. A Go vendor tarball emtk3s would make with the
module proxy may already be there: EMT's k3s 1.32.4 lists ``k3s-vendor-v1.32.4.tar.gz``. Where the
checkout's spec of the same package is of the same upstream version and its signatures name a
vendor tarball of that version, the lock's PENDING source is pinned to that sha256 with the
origin ``emt-record by <EMT's basename>`` (what the pin rests on, for review: the record is
``SPECS/<pkg>/<pkg>.signatures.json`` of the checkout).

A pin is only a hash: ``emtk3s fetch`` then takes the bytes from EMT's source server (the
``emt_sources`` mirror), checks the sha256 and the layout a Go vendor tarball has (a top-level
``vendor/`` with ``vendor/modules.txt``), and ``emtk3s vendor --verify`` makes it again with the
module proxy and compares the trees. integrate then writes EMT's basename into the spec
(the same bytes under EMT's name: nothing is uploaded twice)."""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from emtk3s.emt import checkout
from emtk3s.model.lock import Lock, Pin
from emtk3s.model.package import Catalog
from emtk3s.model.readiness import pending_sources

ORIGIN = "emt-record by "


@dataclass
class RecordPin:
    pin: Pin
    record: str  # the signatures.json it rests on, relative to the checkout
    emt_name: str  # EMT's basename for the same bytes

    def line(self) -> str:
        return f"{self.pin.what}: sha256 {self.pin.sha256} from {self.record} ({self.emt_name})"


def emt_name(origin: str) -> str:
    """EMT's basename named by an ``emt-record by NAME`` origin ("" for any other origin)."""
    return origin.removeprefix(ORIGIN) if origin.startswith(ORIGIN) else ""


def from_record(
    emt: Path, lock: Lock, packages: list[str], catalog: Catalog
) -> tuple[list[RecordPin], list[str]]:
    """The pins EMT's record gives, and why the others found none."""
    root = checkout.require(emt)
    pins: list[RecordPin] = []
    none: list[str] = []
    for pkg in packages:
        pending = pending_sources(lock, pkg, catalog) if pkg in lock.packages else []
        if not pending:
            continue
        plock = lock.packages[pkg]
        base = lock.components[plock.component].tag.lstrip("v").split("+", 1)[0]
        rel = f"SPECS/{pkg}/{pkg}.signatures.json"
        spec = root / f"SPECS/{pkg}/{pkg}.spec"
        sigs_path = checkout.safe_path(root, rel, "signatures")
        if not sigs_path.is_file() or not spec.is_file():
            none += [f"{pkg}/{n}: EMT's checkout has no SPECS/{pkg}" for n in pending]
            continue
        theirs = checkout.spec_version(spec)
        if theirs.split("+", 1)[0] != base:
            none += [f"{pkg}/{n}: EMT's SPECS/{pkg} is {theirs}, not {base}" for n in pending]
            continue
        data, _ = checkout.load_json(sigs_path, '{"Signatures": {name: sha256}}')
        sigs = data.get("Signatures") if isinstance(data, dict) else None
        if not isinstance(sigs, dict):
            raise checkout.bad_shape(sigs_path, '{"Signatures": {name: sha256}}')
        vendor = re.compile(rf"{re.escape(pkg)}-vendor-v?{re.escape(base)}\.tar\.(gz|xz|zst)")
        hits = sorted(n for n in sigs if isinstance(n, str) and vendor.fullmatch(n))
        for name in pending:
            sha = sigs.get(hits[0]) if hits else None
            if not hits or not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha):
                none.append(f"{pkg}/{name}: {rel} names no {pkg}-vendor-v{base} tarball")
                continue
            pin = Pin(pkg, name, sha, None, f"{ORIGIN}{hits[0]}")
            pins.append(RecordPin(pin, rel, hits[0]))
    return pins, none


def check_vendor_layout(path: Path) -> str:
    """ "" when ``path`` is a Go vendor tarball (a top-level ``vendor/`` holding
    ``vendor/modules.txt``), else what is wrong."""
    try:
        with tarfile.open(path) as tar:
            names = [m.name.removeprefix("./") for m in tar.getmembers()]
    except (tarfile.TarError, OSError) as exc:
        return f"not a tar archive ({exc})"
    tops = {n.split("/", 1)[0] for n in names if n}
    if tops != {"vendor"}:
        return f"top level is {sorted(tops)[:5]}, not vendor/ alone"
    if "vendor/modules.txt" not in names:
        return "no vendor/modules.txt"
    return ""


def _rename_source(spec: str, name: str, other: str) -> tuple[str, int]:
    """The Source line whose local file is ``name`` made to name ``other``: a plain file name
    is replaced, a URL keeps its bytes' address and gets (or changes) its ``#/`` name."""
    pattern = re.compile(rf"^(Source\d*:\s*)(\S*?)(#/)?{re.escape(name)}$", re.M)

    def repl(m: re.Match[str]) -> str:
        head, url = m.group(1), m.group(2)
        if m.group(3):  # URL#/name
            return f"{head}{url}#/{other}"
        if url:  # a URL ending in the name: the download stays, the local name changes
            return f"{head}{url}{name}#/{other}"
        return f"{head}{other}"

    return pattern.subn(repl, spec)


def reuse_names(files: dict[str, bytes], theirs: dict[str, tuple[str, str]]) -> list[str]:
    """Where EMT's checkout holds the same bytes (sha256) under another basename, use EMT's
    name in our spec's Source lines and signatures.json (changes ``files`` in place)."""
    sig_name = next((n for n in files if n.endswith(".signatures.json")), None)
    spec_name = next((n for n in files if n.endswith(".spec")), None)
    if sig_name is None or spec_name is None:
        return []
    sigs = json.loads(files[sig_name] or b"{}")
    by_sha: dict[str, str] = {}
    for name, (_where, sha) in theirs.items():
        by_sha.setdefault(sha, name)
    spec = files[spec_name].decode()
    notes: list[str] = []
    new_sigs: dict[str, str] = {}
    for name, sha in sigs.get("Signatures", {}).items():
        other = by_sha.get(sha)
        if other and other != name and other not in sigs.get("Signatures", {}):
            spec, n = _rename_source(spec, name, other)
            if n:
                new_sigs[other] = sha
                notes.append(f"Source {name} is EMT's {other} (same sha256): EMT's name kept")
                continue
        new_sigs[name] = sha
    if notes:
        sigs["Signatures"] = new_sigs
        files[spec_name] = spec.encode()
        files[sig_name] = (json.dumps(sigs, indent=2, sort_keys=True) + "\n").encode()
    return notes
