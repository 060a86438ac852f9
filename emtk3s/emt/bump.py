"""bump: the CVE fast path — a new K3s tag in release.toml, re-resolved, re-fetched, re-rendered
with a changelog entry; and check-updates: newer tags of the same minor upstream."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emtk3s.infra.errors import InputError
from emtk3s.infra.fsutil import write_bytes
from emtk3s.infra.git import ls_remote_tags
from emtk3s.infra.paths import Project
from emtk3s.model import release as manifest
from emtk3s.model.changelog import CHANGELOG_FILE, load_history
from emtk3s.model.lock import Lock
from emtk3s.model.versions import K3sTag
from emtk3s.stages import fetch as fetch_stage
from emtk3s.stages import render
from emtk3s.stages.resolve import resolve

_K3S_LINE = re.compile(r'^(?P<pre>\s*k3s\s*=\s*)"(?P<tag>[^"]*)"(?P<post>.*)$', re.M)


def set_k3s_tag(release_file: Path, tag: K3sTag) -> str:
    """Change the `k3s = "..."` line of [release] in place (comments and layout kept)."""
    text = release_file.read_text(encoding="utf-8")
    m = _K3S_LINE.search(text)
    if not m:
        raise InputError(f'{release_file}: no k3s = "..." line', "add it under [release]")
    new = text[: m.start()] + f'{m.group("pre")}"{tag.tag}"{m.group("post")}' + text[m.end() :]
    write_bytes(release_file, new.encode())
    return m.group("tag")


@dataclass
class BumpResult:
    old: str
    new: str
    changes: list[dict[str, Any]] = field(default_factory=list)
    rendered: list[str] = field(default_factory=list)
    changelog: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "changes": self.changes,
            "rendered": self.rendered,
            "changelog": self.changelog,
        }


def bump(
    project: Project, tag: str, mirrors: dict[str, str], today: float | None = None
) -> BumpResult:
    new_tag = K3sTag.parse(tag)
    rel_before = manifest.load(project.release_file, mirrors)
    if new_tag == rel_before.k3s:
        raise InputError(f"release.toml already builds {tag}", "nothing to bump")
    old_lock_text = project.lock_file.read_text() if project.lock_file.exists() else None
    old_release = project.release_file.read_bytes()
    old = set_k3s_tag(project.release_file, new_tag)
    try:
        rel = manifest.load(project.release_file, mirrors)
        r = resolve(rel, project.cache, project.lock_file)
        fetched = fetch_stage.fetch(rel, r.lock, project.cache, project.lock_file)
        lock = fetched.lock or r.lock
    except BaseException:
        # leave the tree as it was: release.toml and the lock are restored
        write_bytes(project.release_file, old_release)
        if old_lock_text is not None:
            write_bytes(project.lock_file, old_lock_text.encode())
        raise
    result = BumpResult(old, new_tag.tag, r.changes)
    old_versions = {}
    prev: Lock | None = None
    if old_lock_text:
        prev = Lock.from_json(old_lock_text)
        old_versions = {n: p.version for n, p in prev.packages.items()}
    history = load_history(project.root)
    date = render.changelog_date(int(today if today is not None else time.time()))
    summary = ", ".join(f"{c['component']} {c['old']} -> {c['new']}" for c in r.changes if c["old"])
    for name, plock in sorted(lock.packages.items()):
        if old_versions.get(name) == plock.version:
            continue
        evr = f"{plock.version}-{rel.release}"
        entry = {
            "date": date,
            "author": rel.changelog.author,
            "email": rel.changelog.email,
            "evr": evr,
            "lines": [
                f"Update to {plock.version} for K3s {new_tag.tag}.",
                *([f"Components: {summary}."] if summary else []),
                "License verified.",
            ],
        }
        render.check_values(entry)
        if not history.get(name) and prev is not None and name in prev.packages:
            # keep the entry the previous version was rendered with (it lived only in SPECS/)
            pp = prev.packages[name]
            history[name] = render.changelog_entries(
                rel_before, prev.components[pp.component], f"{pp.version}-{rel_before.release}", []
            )
        history.setdefault(name, [])
        history[name] = [e for e in history[name] if e.get("evr") != evr]
        history[name].insert(0, entry)
        result.changelog[name] = evr
    write_bytes(
        project.root / CHANGELOG_FILE,
        (json.dumps(history, indent=2, sort_keys=True) + "\n").encode(),
    )
    rr = render.render(rel, lock, project, history=history)
    result.rendered = rr.written
    return result


def check_updates(release: manifest.Release) -> dict[str, Any]:
    url = f"{release.mirror('github')}/k3s-io/k3s.git"
    tags = ls_remote_tags(url, allow_http=release.http_allowed("github"))
    current = release.k3s
    newer = []
    for name in tags:
        try:
            t = K3sTag.parse(name)
        except InputError:
            continue
        if t.minor_line == current.minor_line and t > current:
            newer.append(t)
    newer.sort()
    return {
        "current": current.tag,
        "newer": [t.tag for t in newer],
        "latest": newer[-1].tag if newer else None,
    }
