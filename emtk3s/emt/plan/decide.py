"""What integrate does with each package: new, update, unchanged, replace, kept or refused, from
every other spec of the same name in the checkout (rpm's version order: EMT's newer copy wins and
stays untouched unless the user chooses the older one; a duplicate or a downgrade is refused
unless the user chooses) and from the sources other specs already use."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from emtk3s.emt import checkout
from emtk3s.model.status import IntegrateAction
from emtk3s.model.versions import evr_compare

RENDER_HEADER = b"# Rendered by emtk3s"


@dataclass
class Decision:
    package: str
    version: str
    #: new | update | unchanged | replace (written); kept (EMT's newer copy wins),
    #: pending (a source not pinned yet), refused (needs a choice or cannot build)
    action: IntegrateAction
    existing: list[dict[str, str]] = field(default_factory=list)  # other copies and versions
    notes: list[str] = field(default_factory=list)
    reason: str = ""  # why refused, kept or pending

    def line(self) -> str:
        where = ", ".join(f"{e['path']} {e['version']}" for e in self.existing)
        text = f"{self.package} {self.version}: {self.action}"
        if where:
            text += f" (existing: {where})"
        if self.reason:
            text += f" - {self.reason}"
        for n in self.notes:
            text += f"; {n}"
        return text


def decide(
    emt: Path,
    pkg: str,
    version: str,
    files: dict[str, bytes],
    recorded: dict[str, str],
    replace: bool,
    allow_downgrade: bool,
) -> tuple[Decision, list[str]]:
    """The decision for one package and the spec directories it removes."""
    target_dir = f"SPECS/{pkg}"
    d = Decision(pkg, version, IntegrateAction.NEW)
    remove: list[str] = []
    found = checkout.find_specs(emt, pkg)
    newer = [e for e in found if e.version != "?" and evr_compare(version, e.version) < 0]
    if newer and not allow_downgrade:
        # EMT never gets worse: its newer package wins, and its copy is left untouched
        d.existing = [{"path": e.rel, "version": e.version} for e in found]
        d.action = IntegrateAction.KEPT
        d.reason = (
            f"EMT's {newer[0].rel} {newer[0].version} is newer; EMT's copy stays untouched "
            "(--allow-downgrade --replace would put this release's in)"
        )
        return d, []
    for ex in found:
        d.existing.append({"path": ex.rel, "version": ex.version})
        cmp = evr_compare(version, ex.version) if ex.version != "?" else 0
        older = cmp < 0
        if ex.dir == target_dir:
            spec = emt / ex.rel
            current = spec.read_bytes()
            if current == files.get(f"{pkg}.spec"):
                d.action = (
                    IntegrateAction.UNCHANGED if d.action == IntegrateAction.NEW else d.action
                )
            elif (
                recorded.get(ex.rel)
                and recorded[ex.rel] != hashlib.sha256(current).hexdigest()
                and not replace
            ):
                d.action, d.reason = (
                    IntegrateAction.REFUSED,
                    f"{ex.rel} was edited by hand since emtk3s integrated it; "
                    "--replace overwrites the edit",
                )
                return d, []
            else:
                if not current.startswith(RENDER_HEADER) and not recorded.get(ex.rel):
                    d.notes.append(f"replaces EMT's own {ex.rel}")
                d.action = (
                    IntegrateAction.UPDATE
                    if d.action in (IntegrateAction.NEW, IntegrateAction.UNCHANGED)
                    else d.action
                )
        else:
            if not replace:
                kind = "downgrade of" if older else "duplicate of"
                d.action, d.reason = (
                    IntegrateAction.REFUSED,
                    f"{kind} {ex.rel} {ex.version}; --replace removes that copy"
                    + (" (and --allow-downgrade accepts the older version)" if older else ""),
                )
                return d, []
            remove.append(ex.dir)
            d.action = IntegrateAction.REPLACE
            d.notes.append(
                f"removes {ex.dir} (EMT's lint-specs.yml passes deleted specs to spec-cleaner, "
                "which then stops at the missing file and lints none of the pull request's "
                "specs: put the removal in a pull request of its own)"
            )
        if older and not allow_downgrade:
            d.action, d.reason = (
                IntegrateAction.REFUSED,
                f"downgrade: {ex.rel} has {ex.version}, this release {version}; "
                "--allow-downgrade accepts it"
                + ("" if ex.dir == target_dir else " (with --replace)"),
            )
            return d, []
    return d, remove


def source_clashes(emt: Path, pkgs: list[str], dirs: dict[str, dict[str, bytes]]) -> list[str]:
    """Sources whose basename another EMT spec already uses for other bytes (EMT's source
    server keys files by basename alone)."""
    theirs = checkout.source_basenames(emt)
    out = []
    for pkg in pkgs:
        sig = json.loads(dirs[f"SPECS/{pkg}"].get(f"{pkg}.signatures.json", b"{}") or b"{}")
        for name, sha in sig.get("Signatures", {}).items():
            hit = theirs.get(name)
            if hit and hit[0] != f"SPECS/{pkg}" and hit[1] != sha:
                out.append(f"{pkg}: Source {name} is also {hit[0]}'s, with other bytes")
    return out
