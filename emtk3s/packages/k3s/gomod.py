"""A go.mod parser (module, go, toolchain, require and replace directives; blocks and single
lines). What `go list -m` would answer for a module is `effective()`: a replace wins."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from emtk3s.infra.errors import InputError

_PATH = r"[A-Za-z0-9][A-Za-z0-9._~/+-]*"
_VER = r"v[0-9][0-9A-Za-z.+-]*"
_REQ = re.compile(rf"^(?P<path>{_PATH})\s+(?P<ver>{_VER})(\s*//.*)?$")
_REP = re.compile(
    rf"^(?P<old>{_PATH})(\s+(?P<oldver>{_VER}))?\s*=>\s*(?P<new>{_PATH}|\./{_PATH}|\.\./{_PATH})(\s+(?P<newver>{_VER}))?(\s*//.*)?$"
)


@dataclass
class GoMod:
    module: str = ""
    go: str = ""
    toolchain: str = ""
    require: dict[str, str] = field(default_factory=dict)
    replace: dict[str, tuple[str, str]] = field(default_factory=dict)  # old -> (new path, version)

    def effective(self, path: str) -> tuple[str, str] | None:
        """(path, version) a build uses for module ``path``; None when it is not required."""
        if path in self.replace:
            new, ver = self.replace[path]
            return new, ver or self.require.get(path, "")
        if path in self.require:
            return path, self.require[path]
        return None


def parse(text: str, where: str = "go.mod") -> GoMod:
    mod = GoMod()
    block: str | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("//", 1)[0].strip() if not raw.strip().startswith("//") else ""
        if not line:
            continue
        if block:
            if line == ")":
                block = None
                continue
            _entry(mod, block, line, where, lineno)
            continue
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word in ("require", "replace", "exclude", "retract", "tool", "godebug"):
            if rest == "(":
                block = word
            elif rest:
                _entry(mod, word, rest, where, lineno)
            continue
        if word == "module":
            mod.module = rest.strip('"')
        elif word == "go":
            if not re.fullmatch(r"[0-9]+\.[0-9]+(\.[0-9]+)?", rest):
                raise InputError(f"{where}:{lineno}: bad go version {rest!r}", "")
            mod.go = rest
        elif word == "toolchain":
            if not re.fullmatch(r"go[0-9]+\.[0-9]+(\.[0-9]+)?", rest):
                raise InputError(f"{where}:{lineno}: bad toolchain {rest!r}", "")
            mod.toolchain = rest
        else:
            raise InputError(
                f"{where}:{lineno}: unknown directive {word!r}", "is this a go.mod file?"
            )
    if block:
        raise InputError(f"{where}: unclosed {block} ( block", "")
    if not mod.module:
        raise InputError(f"{where}: no module line", "is this a go.mod file?")
    return mod


def _entry(mod: GoMod, kind: str, line: str, where: str, lineno: int) -> None:
    if kind == "require":
        m = _REQ.match(line)
        if not m:
            raise InputError(f"{where}:{lineno}: cannot parse require {line[:80]!r}", "")
        mod.require[m.group("path")] = m.group("ver")
    elif kind == "replace":
        m = _REP.match(line)
        if not m:
            raise InputError(f"{where}:{lineno}: cannot parse replace {line[:80]!r}", "")
        mod.replace[m.group("old")] = (m.group("new"), m.group("newver") or "")
