"""bump: the CVE fast path — a new K3s tag in release.toml, re-resolved, re-fetched, re-rendered
with a changelog entry; and check-updates: newer tags of the same minor upstream."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emtk3s.infra.errors import InputError
from emtk3s.infra.fsutil import write_bytes
from emtk3s.infra.git import ls_remote_tags
from emtk3s.infra.paths import Project
from emtk3s.model import release
from emtk3s.model.changelog import (
    ATTRIBUTION,
    format_date,
    load_history,
    parse_date,
    save_history,
    user_epoch,
)
from emtk3s.model.lock import Lock
from emtk3s.model.package import Catalog
from emtk3s.model.versions import K3sTag, evr_compare
from emtk3s.stages import fetch as fetch_stage
from emtk3s.stages import render
from emtk3s.stages.resolve import resolve


def set_k3s_tag(release_file: Path, tag: K3sTag) -> str:
    """Change ``k3s`` of [release] in place with tomlkit (a TOML parser that keeps comments,
    key order, spacing and the value's own inline comment): only the value changes."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    text = release_file.read_text(encoding="utf-8")
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise InputError(f"{release_file}: not valid TOML ({exc})", "fix release.toml") from None
    table = doc.get("release")
    old = table.get("k3s") if isinstance(table, tomlkit.items.Table) else None
    if not isinstance(table, tomlkit.items.Table) or not isinstance(old, str):
        raise InputError(
            f'{release_file}: no k3s = "..." under [release]', "add it under [release]"
        )
    item = tomlkit.item(tag.tag)
    current = table.item("k3s")
    assert isinstance(current, tomlkit.items.Item)
    trivia = current.trivia
    item.trivia.indent, item.trivia.comment_ws = trivia.indent, trivia.comment_ws
    item.trivia.comment, item.trivia.trail = trivia.comment, trivia.trail
    table["k3s"] = item
    write_bytes(release_file, tomlkit.dumps(doc).encode())
    return str(old)


def _vercmp(a: str, b: str) -> int:
    """rpm's ordering of two upstream versions (a leading v ignored)."""
    ra, rb = a[1:] if a[:1] == "v" else a, b[1:] if b[:1] == "v" else b
    return evr_compare(ra, rb)


def _versions(lock: Lock) -> dict[str, str]:
    """Every version a release is made of: the components' tags and what the K3s tag pins
    (runc, containerd, CNI plugins, flannel, charts, the components' own tags ...)."""
    out: dict[str, str] = {}
    for name, comp in sorted(lock.components.items()):
        out[name] = comp.tag
        facts = comp.facts or {}
        for key, val in sorted(facts.items()):
            if key.startswith("VERSION_") and isinstance(val, str):
                out[key[len("VERSION_") :].lower().replace("_", "-")] = val
        for chart, ver in sorted((facts.get("charts") or {}).items()):
            if isinstance(ver, str):
                out[f"chart {chart}"] = ver
        for mod, info in sorted((facts.get("modules") or {}).items()):
            # modules are keyed as the VERSION_ facts are (k8s_k3s is VERSION_K8S_K3S's
            # k8s-k3s): one name, listed once
            if isinstance(info, dict) and isinstance(info.get("version"), str):
                out.setdefault(mod.lower().replace("_", "-"), info["version"])
    # a fact that merely repeats a component's tag (VERSION_X = the tag of component "...-x")
    # is listed once, under the component
    for key in [k for k in out if k not in lock.components]:
        if any(c.endswith(f"-{key}") and out[key] == out.get(c) for c in lock.components):
            out.pop(key)
    return out


def component_changes(old: Lock | None, new: Lock) -> list[dict[str, Any]]:
    """Every component whose version differs, old -> new, with "downgrade" set by rpm's order."""
    before = _versions(old) if old is not None else {}
    after = _versions(new)
    changes = []
    for name in sorted(set(before) | set(after)):
        o, n = before.get(name), after.get(name)
        if o == n:
            continue
        down = o is not None and n is not None and _vercmp(n, o) < 0
        changes.append({"component": name, "old": o, "new": n, "downgrade": down})
    return changes


def _describe(c: dict[str, Any]) -> str:
    if c["old"] is None:
        return f"{c['component']} {c['new']} (new)"
    if c["new"] is None:
        return f"{c['component']} {c['old']} (removed)"
    return f"{c['component']} {c['old']} -> {c['new']}" + (" (downgrade)" if c["downgrade"] else "")


@dataclass
class BumpResult:
    old: str
    new: str
    changes: list[dict[str, Any]] = field(default_factory=list)
    rendered: list[str] = field(default_factory=list)
    changelog: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def bump(
    project: Project,
    tag: str,
    catalog: Catalog,
    mirrors: dict[str, str],
    date: str | None = None,
    allow_downgrade: bool = False,
) -> BumpResult:
    new_tag = K3sTag.parse(tag)
    rel_before = release.load(project.release_file, catalog, mirrors)
    if new_tag == rel_before.k3s:
        raise InputError(f"release.toml already builds {tag}", "nothing to bump")
    if new_tag < rel_before.k3s and not allow_downgrade:
        raise InputError(
            f"{tag} is older than {rel_before.k3s.tag} that release.toml builds (a downgrade)",
            "pass --allow-downgrade if that is what you want",
        )
    epoch = user_epoch(date)
    old_lock_text = project.lock_file.read_text() if project.lock_file.exists() else None
    prev: Lock | None = Lock.from_json(old_lock_text, catalog.mirrors) if old_lock_text else None
    old_release = project.release_file.read_bytes()
    old = set_k3s_tag(project.release_file, new_tag)
    try:
        rel = release.load(project.release_file, catalog, mirrors)
        r = resolve(rel, project.cache, project.lock_file)
        changes = component_changes(prev, r.lock)
        downs = [c for c in changes if c["downgrade"]]
        if downs and not allow_downgrade:
            raise InputError(
                f"bump to {tag} downgrades {', '.join(_describe(c) for c in downs)}",
                "pass --allow-downgrade if that is what you want",
            )
        fetched = fetch_stage.fetch(rel, r.lock, project.cache, project.lock_file)
        lock = fetched.lock or r.lock
    except BaseException:
        # leave the tree as it was: release.toml and the lock are restored
        write_bytes(project.release_file, old_release)
        if old_lock_text is not None:
            write_bytes(project.lock_file, old_lock_text.encode())
        raise
    result = BumpResult(old, new_tag.tag, changes)
    result.warnings = [f"downgrade: {_describe(c)}" for c in downs]
    history = load_history(project.root)
    for name, plock in sorted(lock.packages.items()):
        pold = prev.packages.get(name) if prev is not None else None
        if pold is not None and pold.version == plock.version:
            continue
        evr = f"{plock.version}-{rel.release}"
        comp = lock.components[plock.component]
        if not history.get(name) and prev is not None and pold is not None:
            # keep the entry the previous version was rendered with (it lived only in SPECS/)
            history[name], _ = render.changelog_entries(
                rel_before,
                prev.components[pold.component],
                f"{pold.version}-{rel_before.release}",
                [],
            )
        past = [e for e in history.get(name, []) if e.get("evr") != evr]
        when = epoch if epoch is not None else (comp.commit_time or 0)
        if past:
            when = max(when, parse_date(past[0]["date"]))
        entry = {
            "date": format_date(when),
            "author": rel.changelog.author,
            "email": rel.changelog.email,
            "evr": evr,
            "lines": [
                f"Update to {plock.version} for K3s {new_tag.tag}." if past else f"{ATTRIBUTION}",
                *([] if past else [f"Built from {comp.repo} {comp.tag}."]),
                *[f"{_describe(c)}." for c in changes],
            ],
        }
        render.check_values(entry)
        history[name] = [entry, *past]
        result.changelog[name] = evr
    save_history(project.root, history)
    rr = render.render(rel, lock, project, history=history, epoch=epoch)
    result.rendered = rr.written
    return result


@dataclass
class Updates:
    current: str  # the K3s tag release.toml builds
    newer: list[str]  # newer tags of the same minor, oldest first
    latest: str | None


def check_updates(rel: release.Release) -> Updates:
    url = f"{rel.mirror('github')}/k3s-io/k3s.git"
    tags = ls_remote_tags(url, allow_http=rel.http_allowed("github"))
    current = rel.k3s
    newer = []
    for name in tags:
        try:
            t = K3sTag.parse(name)
        except InputError:
            continue
        if t.minor_line == current.minor_line and t > current:
            newer.append(t)
    newer.sort()
    return Updates(current.tag, [t.tag for t in newer], newer[-1].tag if newer else None)
