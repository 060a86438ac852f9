"""The K3s version where the cluster manager reads it: ``metadata.kubernetes-version`` of the OS
profiles in an infra-core checkout (open-edge-platform/infra-core, ``os-profiles/*.yaml``).

Which profiles: those whose image carries K3s. A profile says so itself by carrying the field
(infra-core's microvisor-nonrt and microvisor-rt do; microvisor-idv, microvisor-standalone and
the Ubuntu profiles do not); ``--profile NAME`` adds the field to another one. Every other profile
is listed as skipped with that reason.

The edit is a line edit (the value of the ``kubernetes-version:`` line under ``metadata:``, its
comment and every other byte kept), checked by parsing the result: only that field changed.
Like integrate, it refuses what needs a choice: a profile whose version is newer than this
release's (a downgrade: ``--allow-downgrade``) or is not a K3s tag at all (edited by hand). The
change is applied as one unit (emtk3s.emt.txn: staged, journalled, renamed into place)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from emtk3s.emt import checkout, txn
from emtk3s.infra.errors import ConflictError, InputError
from emtk3s.infra.textdiff import unified
from emtk3s.model.versions import K3sTag

PROFILES = "os-profiles"
_METADATA = re.compile(r"^metadata:[ \t]*(#.*)?$", re.M)
_FIELD = re.compile(
    r"^(?P<pre>[ \t]+kubernetes-version:[ \t]*)(?P<value>[^\s#]*)(?P<post>[ \t]*(#.*)?)$", re.M
)


@dataclass
class ProfileDecision:
    profile: str  # file name under os-profiles/
    action: str  # update | unchanged | add | skipped | refused
    old: str = ""
    new: str = ""
    reason: str = ""

    def line(self) -> str:
        text = f"{self.profile}: {self.action}"
        if self.old or self.new:
            text += f" ({self.old or '-'} -> {self.new})"
        return text + (f" - {self.reason}" if self.reason else "")


@dataclass
class ProfilePlan:
    root: Path
    decisions: list[ProfileDecision]
    change: txn.Change
    old: dict[str, bytes]

    @property
    def refused(self) -> list[ProfileDecision]:
        return [d for d in self.decisions if d.action == "refused"]

    def diff(self) -> str:
        return "".join(
            unified(self.old[rel], new, rel) for rel, new in sorted(self.change.files.items())
        )


def require(infra: Path) -> Path:
    if not (infra / PROFILES).is_dir():
        raise InputError(
            f"{infra}: not an infra-core checkout (no {PROFILES}/)", "pass --infra-core PATH"
        )
    return infra.resolve()


def _metadata_block(text: str) -> tuple[int, int] | None:
    """(start, end) of the lines of the top-level ``metadata:`` mapping."""
    m = _METADATA.search(text)
    if not m:
        return None
    start = m.end() + 1
    end = start
    for line in text[start:].splitlines(keepends=True):
        if line.strip() and not line[0].isspace():
            break
        end += len(line)
    return start, end


def _set(text: str, version: str) -> tuple[str, str]:
    """(new text, old value or "" when the field was added)."""
    block = _metadata_block(text)
    if block is None:
        raise ValueError("no top-level metadata: mapping")
    start, end = block
    m = _FIELD.search(text, start, end)
    if m:
        new = text[: m.start("value")] + version + text[m.end("value") :]
        return new, m.group("value")
    first = next((ln for ln in text[start:end].splitlines() if ln.strip()), "  x")
    indent = first[: len(first) - len(first.lstrip())] or "  "
    return text[:start] + f"{indent}kubernetes-version: {version}\n" + text[start:], ""


def _same_but_field(old: str, new: str, version: str) -> bool:
    import yaml

    a, b = yaml.safe_load(old), yaml.safe_load(new)
    if not isinstance(a, dict) or not isinstance(b, dict):
        return False
    meta = dict(b.get("metadata") or {})
    if meta.pop("kubernetes-version", None) != version:
        return False
    am = dict(a.get("metadata") or {})
    am.pop("kubernetes-version", None)
    return meta == am and {k: v for k, v in a.items() if k != "metadata"} == {
        k: v for k, v in b.items() if k != "metadata"
    }


def plan(
    infra: Path, k3s: str, profiles: list[str] | None = None, allow_downgrade: bool = False
) -> ProfilePlan:
    root = require(infra)
    ours = K3sTag.parse(k3s)
    files = sorted(p.name for p in (root / PROFILES).glob("*.yaml") if p.is_file())
    unknown = [x for x in profiles or [] if f"{x.removesuffix('.yaml')}.yaml" not in files]
    if unknown:
        raise InputError(
            f"--profile {unknown[0]}: no {PROFILES}/{unknown[0]}.yaml in {root}",
            f"choose from {', '.join(f.removesuffix('.yaml') for f in files)}",
        )
    named = {f"{x.removesuffix('.yaml')}.yaml" for x in profiles or []}
    out = ProfilePlan(root, [], txn.Change(), {})
    for name in files:
        rel = f"{PROFILES}/{name}"
        path = checkout.safe_path(root, rel, "OS profile")
        data = path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        has = _FIELD.search(text, *(_metadata_block(text) or (0, 0)))
        if not has and name not in named:
            out.decisions.append(
                ProfileDecision(
                    name,
                    "skipped",
                    reason="no metadata.kubernetes-version: its image does not carry K3s "
                    "(--profile adds the field)",
                )
            )
            continue
        try:
            new_text, old = _set(text, ours.tag)
        except ValueError as exc:
            raise InputError(f"{path}: {exc}", "fix the OS profile") from None
        d = ProfileDecision(name, "add" if not old else "update", old, ours.tag)
        if old == ours.tag:
            d.action = "unchanged"
        elif old:
            try:
                theirs = K3sTag.parse(old)
            except Exception:
                d.action, d.reason = "refused", f"{old!r} is not a K3s tag (edited by hand?)"
            else:
                if theirs > ours and not allow_downgrade:
                    d.action = "refused"
                    d.reason = f"downgrade of {old}; --allow-downgrade accepts it"
        if d.action in ("add", "update"):
            if not _same_but_field(text, new_text, ours.tag):
                raise InputError(
                    f"{path}: the line edit would change more than metadata.kubernetes-version",
                    "fix the OS profile's layout",
                )
            out.old[rel] = data
            out.change.files[rel] = new_text.encode()
        out.decisions.append(d)
    return out


def refusal(p: ProfilePlan) -> ConflictError:
    return ConflictError(
        "os-profiles refused: " + "; ".join(d.line() for d in p.refused),
        "choose with --allow-downgrade, or fix the profile",
    )


def apply(p: ProfilePlan) -> list[str]:
    if p.refused:
        raise refusal(p)
    txn.recover(p.root)
    if p.change.files:
        txn.apply(p.root, p.change)
    return sorted(str(p.root / rel) for rel in p.change.files)
