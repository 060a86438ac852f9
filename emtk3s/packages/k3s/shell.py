"""Read a K3s tag's build scripts the way bash would evaluate the lines that matter to a
package, without running anything.

What is understood (everything K3s's scripts from 1.26 to today's main use for the values a
package needs): assignments (``export``/``local``, quoting, concatenation), parameter expansion
(``$V``, ``${V}``, ``${V:-x}``, ``${V-x}``, ``${V%pat}``, ``${V%%pat}``, ``${V#pat}``,
``${V##pat}``), ``if [ -z "$V" ]; then ... fi`` fallbacks (skipped when ``V`` has a value),
``case ${ARCH} in`` blocks (values recorded per arm), sourced files (``. ./scripts/x.sh``),
scripts the build runs (``./scripts/build-x.sh``), ``cd``/``pushd``/subshells (for relative clone
directories), module lookups through version.sh's own ``go list -m -f`` functions or
``grep <module> go.mod | head -n1 | awk '{print $N}'`` (answered from go.mod as go would, a
replace winning), ``$(mktemp -d)`` (a scratch GOPATH: ``build``), ``$(pwd)``, ``$(dirname "$0")``,
and ``git clone`` with ``--branch=``, ``--branch`` or ``-b``.

A value made by anything else (``$(curl ...)``) is *unknown* and says where it was made; only
when a package needs it is that an error, naming the file and line. A ``git clone`` or a
``source`` line that cannot be read is always an error naming the file and line.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from emtk3s.infra.errors import InputError

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_ASSIGN = re.compile(rf"^(?:(?:export|local|readonly)\s+)?(?P<name>{_NAME})=(?P<value>.*)$")
_FUNC = re.compile(r"^(?:function\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_-]*)\s*\(\s*\)\s*\{?\s*$")
_Z_TEST = re.compile(rf"^if\s+\[\[?\s+-z\s+\"?\$\{{?(?P<name>{_NAME})\}}?\"?\s+\]\]?\s*;\s*then$")
_CASE = re.compile(rf"^case\s+\"?\$\{{?(?P<name>{_NAME})\}}?\"?\s+in$")
_ARM = re.compile(r"^(?P<pat>[^()\s]+(?:\|[^()\s]+)*)\)\s*(?P<rest>.*)$")
_SOURCE = re.compile(r"^(?:\.|source)\s+(?P<path>\S+)\s*$")
_RUN = re.compile(r"^(?:bash\s+|sh\s+)?(?P<path>\.?/?scripts/[A-Za-z0-9._-]+)(?:\s.*)?$")
_TEMPLATE = re.compile(r"-f\s+'(?P<t>[^']*)'")
#: the scratch directory a build makes with mktemp -d: our spec's GOPATH is build/
SCRATCH = "build"


@dataclass(frozen=True)
class Unknown:
    """A value resolve cannot know without running something."""

    where: str  # file:line
    why: str


Value = str | Unknown


@dataclass
class Clone:
    var: str  # the VERSION_* the branch names
    url: Value
    dest: Value
    where: str  # file:line
    file: str
    line: int


@dataclass
class Lookup:
    """A value computed from go.mod (a `go list -m` function or grep/awk)."""

    kind: str  # version | path
    path: str  # the module asked for
    module: str  # what answers (a replace's target wins)
    value: str
    where: str


@dataclass
class Env:
    """What the lines read so far have set."""

    values: dict[str, Value] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)  # var -> file:line of its value
    per_arm: dict[str, dict[str, str]] = field(default_factory=dict)  # var -> case arm -> value
    functions: dict[str, str] = field(default_factory=dict)  # name -> version | path | other
    readonly_list: bool = False  # a module function forces -mod=readonly
    lookups: dict[str, Lookup] = field(default_factory=dict)  # var -> its go.mod lookup
    clones: list[Clone] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # every file read, in order
    texts: dict[str, str] = field(default_factory=dict)


class Reader:
    """Evaluates scripts of one tag. ``read_file`` gives a file's text or None; ``modules``
    answers a module lookup: (kind, module path) -> (answering module, value) or None."""

    def __init__(
        self,
        read_file: Callable[[str], str | None],
        modules: Callable[[str, str], tuple[str, str] | None],
    ) -> None:
        self.read_file = read_file
        self.modules = modules

    # --- files ---------------------------------------------------------------------------

    def run(self, path: str, env: Env | None = None, follow_runs: bool = False) -> Env:
        env = env or Env()
        self._file(path, env, follow_runs, depth=0)
        return env

    def _file(self, path: str, env: Env, follow_runs: bool, depth: int) -> None:
        text = self.read_file(path)
        if text is None:
            raise InputError(f"{path}: no such file in the tag", "")
        if depth > 8:
            raise InputError(f"{path}: sourced files nest too deep", "")
        env.files.append(path)
        env.texts[path] = text
        lines = _logical_lines(text)
        cwd: list[Value] = [""]
        blocks: list[str] = []  # skip | maybe | run
        case: list[tuple[str, str]] = []  # (var, current arm)
        func: tuple[str, list[str]] | None = None
        for lineno, raw in lines:
            where = f"{path}:{lineno}"
            line = raw.strip()
            if func is not None:
                if line == "}" or line.startswith("}"):
                    self._define(func[0], func[1], env)
                    func = None
                else:
                    func[1].append(line)
                continue
            if not line or line.startswith("#"):
                continue
            m = _FUNC.match(line)
            if m:
                func = (m.group("name"), [])
                continue
            if line.startswith(("if ", "if[")):
                z = _Z_TEST.match(line)
                if (
                    z
                    and isinstance(env.values.get(z.group("name")), str)
                    and env.values[z.group("name")]
                ):
                    blocks.append("skip")
                elif any(b == "skip" for b in blocks):
                    blocks.append("skip")
                else:
                    blocks.append("run" if z else "maybe")
                continue
            if line in ("else", "fi") or line.startswith(("elif ", "else ")):
                if not blocks:
                    continue
                if line == "fi":
                    blocks.pop()
                else:
                    outer_skip = any(b == "skip" for b in blocks[:-1])
                    blocks[-1] = "skip" if outer_skip else "maybe"
                continue
            if blocks and blocks[-1] == "skip":
                continue
            c = _CASE.match(line)
            if c:
                case.append((c.group("name"), ""))
                continue
            if line == "esac":
                if case:
                    case.pop()
                continue
            if case:
                if line == ";;":
                    case[-1] = (case[-1][0], "")
                    continue
                a = _ARM.match(line)
                if a and not _ASSIGN.match(line):
                    case[-1] = (case[-1][0], a.group("pat"))
                    line = a.group("rest").removesuffix(";;").strip()
                    if not line:
                        continue
                arm = case[-1][1]
                m2 = _ASSIGN.match(line)
                if m2 and arm and arm != "*":
                    v = self.expand(m2.group("value"), env, where, cwd[-1])
                    if isinstance(v, str):
                        env.per_arm.setdefault(m2.group("name"), {})[arm] = v
                continue
            if line in ("(", "{"):
                cwd.append(cwd[-1])
                continue
            if line in (")", "}"):
                if len(cwd) > 1:
                    cwd.pop()
                continue
            self._command(line, where, path, lineno, env, cwd, blocks, follow_runs, depth)

    def _define(self, name: str, body: list[str], env: Env) -> None:
        text = " ".join(body)
        kind = "other"
        if re.search(r"\blist\b", text) and re.search(r"\s-m\b", text):
            t = _TEMPLATE.search(text)
            tmpl = t.group("t") if t else ""
            if ".Replace.Version" in tmpl or tmpl == "{{.Version}}":
                kind = "version"
            elif ".Replace.Path" in tmpl or tmpl == "{{.Path}}":
                kind = "path"
            if "-mod=readonly" in text:
                env.readonly_list = True
        env.functions[name] = kind

    def _command(
        self,
        line: str,
        where: str,
        path: str,
        lineno: int,
        env: Env,
        cwd: list[Value],
        blocks: list[str],
        follow_runs: bool,
        depth: int,
    ) -> None:
        maybe = bool(blocks) and blocks[-1] == "maybe"
        s = _SOURCE.match(line)
        if s:
            target = self.expand(s.group("path"), env, where, cwd[-1])
            if not isinstance(target, str):
                raise InputError(
                    f"{where}: cannot tell which file this line sources",
                    "report it: this K3s era is not understood yet",
                )
            self._file(_in_tag(target, where), env, follow_runs, depth + 1)
            return
        r = _RUN.match(line)
        if r and follow_runs:
            # a build step of its own (scripts/build-*.sh): a child process with its own
            # variables, reading what it sources itself
            self._file(_in_tag(r.group("path"), where), Env_child(env), False, depth + 1)
            return
        for prefix in ("cd ", "pushd "):
            if line.startswith(prefix):
                target = self.expand(line[len(prefix) :].strip(), env, where, cwd[-1])
                here = cwd[-1]
                if isinstance(target, str) and isinstance(here, str):
                    cwd[-1] = _norm(target, here)
                else:
                    cwd[-1] = target if isinstance(target, Unknown) else Unknown(where, "cd")
                return
        if line == "popd" or line.startswith("popd "):
            cwd[-1] = ""
            return
        if re.search(r"\bgit\s+clone\b", line):
            env.clones.append(self._clone(line, where, path, lineno, env, cwd[-1]))
            return
        m = _ASSIGN.match(line)
        if m:
            name = m.group("name")
            if maybe and name in env.values:
                return  # a branch resolve cannot decide does not override a value
            value = self.expand(m.group("value"), env, where, cwd[-1], assign_to=name)
            env.values[name] = value
            env.where[name] = where

    def _clone(self, line: str, where: str, path: str, lineno: int, env: Env, cwd: Value) -> Clone:
        cmd = re.split(r"\s(?:&&|\|\||;|\|)\s", line.split("git clone", 1)[1])[0]
        try:
            words = shlex.split(cmd, posix=False)
        except ValueError:
            words = []
        branch = ""
        rest: list[str] = []
        i = 0
        while i < len(words):
            w = words[i]
            if w.startswith("--branch="):
                branch = w.split("=", 1)[1]
            elif w in ("--branch", "-b") and i + 1 < len(words):
                branch = words[i + 1]
                i += 1
            elif w in ("--depth", "--origin", "-o", "--reference", "--config", "-c"):
                i += 1
            elif not w.startswith("-"):
                rest.append(w)
            i += 1
        var = re.fullmatch(rf"[\"']?\$\{{?({_NAME})\}}?[\"']?", branch)
        if var is None or len(rest) != 2:
            raise InputError(
                f"{where}: cannot read this git clone (which VERSION_* branch, from where, into "
                "which directory)",
                "report it: this K3s era is not understood yet",
            )
        url = self.expand(rest[0], env, where, cwd)
        dest = self.expand(rest[1], env, where, cwd)
        if isinstance(dest, str):
            if not isinstance(cwd, str):
                dest = Unknown(where, "the directory it runs in is not known")
            else:
                dest = _norm(dest, cwd)
        return Clone(var.group(1), url, dest, where, path, lineno)

    # --- words ---------------------------------------------------------------------------

    def expand(
        self, word: str, env: Env, where: str, cwd: Value = "", assign_to: str = ""
    ) -> Value:
        """A shell word (quotes, expansions, command substitutions) -> its value."""
        word = re.sub(r"\s+#.*$", "", word.strip()) if not word.strip().startswith("'") else word
        out: list[str] = []
        i = 0
        quote = ""
        n = len(word)
        while i < n:
            ch = word[i]
            if quote == "'":
                if ch == "'":
                    quote = ""
                else:
                    out.append(ch)
                i += 1
                continue
            if ch == "'" and not quote:
                quote = "'"
                i += 1
                continue
            if ch == '"':
                quote = "" if quote == '"' else '"'
                i += 1
                continue
            if ch == "\\" and i + 1 < n:
                out.append(word[i + 1])
                i += 2
                continue
            if ch == "$" and word.startswith("$(", i):
                end = _closing(word, i + 1, "(", ")")
                if end < 0:
                    return Unknown(where, "an unclosed $(")
                val = self._substitute(word[i + 2 : end], env, where, cwd, assign_to)
                if isinstance(val, Unknown):
                    return val
                out.append(val)
                i = end + 1
                continue
            if ch == "$" and word.startswith("${", i):
                end = _closing(word, i + 1, "{", "}")
                if end < 0:
                    return Unknown(where, "an unclosed ${")
                val = self._parameter(word[i + 2 : end], env, where)
                if isinstance(val, Unknown):
                    return val
                out.append(val)
                i = end + 1
                continue
            if ch == "$":
                m = re.match(rf"{_NAME}|[0-9]", word[i + 1 :])
                if m is None:
                    out.append(ch)
                    i += 1
                    continue
                val = self._var(m.group(0), env, where)
                if isinstance(val, Unknown):
                    return val
                out.append(val)
                i += 1 + len(m.group(0))
                continue
            if ch in " \t;&|<>`" and not quote:
                if ch in " \t" and word[i:].strip().startswith("#"):
                    break
                return Unknown(where, "more than one word")
            out.append(ch)
            i += 1
        if quote:
            return Unknown(where, "an unclosed quote")
        return "".join(out)

    def _var(self, name: str, env: Env, where: str) -> Value:
        if name == "0":
            return "scripts/self"
        if name not in env.values:
            return Unknown(where, f"${name} is set outside the tag's files")
        return env.values[name]

    def _parameter(self, body: str, env: Env, where: str) -> Value:
        m = re.match(rf"^({_NAME})(.*)$", body, re.S)
        if m is None:
            return Unknown(where, f"${{{body}}}")
        name, op = m.group(1), m.group(2)
        if not op:
            return self._var(name, env, where)
        for o in (":-", "-"):
            if op.startswith(o):
                cur = env.values.get(name)
                if isinstance(cur, str) and (cur or o == "-"):
                    return cur
                if isinstance(cur, Unknown):
                    return cur
                return self.expand(op[len(o) :], env, where)
        for o in ("%%", "%", "##", "#"):
            if op.startswith(o):
                cur = self._var(name, env, where)
                if isinstance(cur, Unknown):
                    return cur
                pat = op[len(o) :]
                if pat[:1] in "\"'" and pat[-1:] == pat[:1] and len(pat) > 1:
                    pat = re.sub(r"([*?\[\]])", r"[\1]", pat[1:-1])  # quoted: literal
                return _strip(cur, pat, o)
        return Unknown(where, f"${{{body}}} (an expansion resolve does not evaluate)")

    def _substitute(self, cmd: str, env: Env, where: str, cwd: Value, assign_to: str) -> Value:
        cmd = cmd.strip()
        try:
            words = shlex.split(cmd)
        except ValueError:
            return Unknown(where, f"$({cmd[:40]})")
        if not words:
            return ""
        if words[0] in env.functions and len(words) == 2:
            kind = env.functions[words[0]]
            if kind == "other":
                return Unknown(where, f"$({words[0]} ...)")
            arg = self.expand(words[1], env, where)
            if isinstance(arg, Unknown):
                return arg
            ans = self.modules(kind, arg)
            value = ans[1] if ans else ""
            if assign_to:
                env.lookups[assign_to] = Lookup(kind, arg, ans[0] if ans else "", value, where)
            return value
        if words[0] == "mktemp":
            return SCRATCH
        if words == ["pwd"]:
            return cwd if isinstance(cwd, str) and cwd else "."
        if words[0] == "dirname" and len(words) == 2:
            arg = self.expand(words[1], env, where)
            return arg if isinstance(arg, Unknown) else posixpath.dirname(arg) or "."
        if words[0] == "grep":
            return self._grep(cmd, env, where, assign_to)
        return Unknown(where, f"$({words[0]} ...) runs a command")

    def _grep(self, cmd: str, env: Env, where: str, assign_to: str) -> Value:
        """``grep PAT FILE | head -n1 | awk '{print $N}'``: the Nth field of the first line."""
        stages = [shlex.split(s) for s in re.split(r"\s\|\s", cmd)]
        g = [w for w in stages[0][1:] if not w.startswith("-")]
        if len(g) != 2 or len(stages) != 3:
            return Unknown(where, "a grep pipeline resolve does not evaluate")
        head, awk = stages[1], stages[2]
        m = re.fullmatch(r"\{\s*print \$(\d+)\s*\}", awk[1]) if len(awk) == 2 else None
        if head[0] != "head" or head[1:] not in (["-n1"], ["-1"], ["-n", "1"]) or m is None:
            return Unknown(where, "a grep pipeline resolve does not evaluate")
        text = self.read_file(g[1])
        if text is None:
            return Unknown(where, f"{g[1]} is not in the tag")
        pat = re.compile(g[0])
        field_no = int(m.group(1))
        for line in text.splitlines():
            if pat.search(line):
                fields = line.split()
                value = fields[field_no - 1] if len(fields) >= field_no else ""
                if assign_to:
                    module = fields[2] if len(fields) > 2 and fields[1] == "=>" else fields[0]
                    env.lookups[assign_to] = Lookup(
                        "version", g[0].split()[0], module, value, where
                    )
                return value
        return ""


def Env_child(parent: Env) -> Env:  # noqa: N802 (reads like the constructor it stands for)
    """A script the build runs: its own variables, the clones and files it reads shared."""
    child = Env()
    child.clones = parent.clones
    child.files = parent.files
    child.texts = parent.texts
    child.lookups = parent.lookups
    return child


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with backslash continuations and multi-line double-quoted strings joined (each
    numbered by its first line)."""
    out: list[tuple[int, str]] = []
    buf = ""
    start = 0
    for n, line in enumerate(text.splitlines(), start=1):
        if not buf:
            start = n
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        if _open_quote(buf + line):
            buf += line + " "
            continue
        out.append((start, buf + line))
        buf = ""
    if buf:
        out.append((start, buf))
    return out


def _open_quote(line: str) -> bool:
    """Whether a double quote is left open at the end of the line (comments, single quotes
    and escapes respected)."""
    quote = ""
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\":
            i += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            break
        i += 1
    return quote == '"'


def _closing(s: str, i: int, open_: str, close: str) -> int:
    """Index of the bracket closing the one at ``i`` (quotes respected)."""
    depth = 0
    quote = ""
    for j in range(i, len(s)):
        ch = s[j]
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"" and open_ == "(":
            quote = ch
            continue
        if ch == open_:
            depth += 1
        elif ch == close:
            depth -= 1
            if depth == 0:
                return j
    return -1


def _strip(value: str, pat: str, op: str) -> str:
    """${V%pat} ${V%%pat} ${V#pat} ${V##pat} with shell glob patterns."""
    n = len(value)
    if op == "%":
        idx = range(n, -1, -1)
        return next((value[:i] for i in idx if fnmatch.fnmatchcase(value[i:], pat)), value)
    if op == "%%":
        return next((value[:i] for i in range(n + 1) if fnmatch.fnmatchcase(value[i:], pat)), value)
    if op == "#":
        return next((value[i:] for i in range(n + 1) if fnmatch.fnmatchcase(value[:i], pat)), value)
    return next((value[i:] for i in range(n, -1, -1) if fnmatch.fnmatchcase(value[:i], pat)), value)


def _norm(path: str, cwd: str) -> str:
    path = path.removeprefix("./")
    if not path.startswith("/"):
        path = posixpath.join(cwd, path) if cwd else path
    return posixpath.normpath(path)


def _in_tag(path: str, where: str) -> str:
    """A sourced or run script: a file of the tag (scripts/..., relative to the top)."""
    p = posixpath.normpath(path.removeprefix("./"))
    p = re.sub(r"^scripts/self/\.\./", "", p)  # "$(dirname "$0")/../scripts/x" forms
    if p.startswith(("/", "..")) or "$" in p:
        raise InputError(
            f"{where}: sources {path!r}, which is not a file of the tag",
            "report it: this K3s era is not understood yet",
        )
    return p
