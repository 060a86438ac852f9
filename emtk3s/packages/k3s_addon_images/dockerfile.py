"""An image's runtime config read from its upstream Dockerfile at the tag, without running it.

What the final stage sets (``USER``, ``ENTRYPOINT``, ``CMD``, ``ENV``, ``WORKDIR``, ``EXPOSE``),
its base (``FROM``, after ``ARG`` defaults), and the file capabilities an earlier stage gives a
file with ``setcap`` that the final stage copies in (coredns: ``setcap
cap_net_bind_service=+ep /coredns`` in the build stage, ``COPY --from=build /coredns /coredns``).
An instruction this reader does not understand in the final stage is an error naming the file
and line: the image we write must not silently differ from upstream's.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from emtk3s.infra.errors import InputError

_ARG_REF = re.compile(
    r"\$\{(?P<a>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>[#%]|:-)(?P<word>[^}]*))?\}"
    r"|\$(?P<b>[A-Za-z_][A-Za-z0-9_]*)"
)
#: a platform guard (local-path-provisioner): if [ "$TARGETPLATFORM" != "linux/amd64" ] && ...;
#: then echo ... && exit 1; fi — refuses the platforms it does not list, changes no file
_GUARD = re.compile(
    r'^if\s+(?P<tests>\[\s*"\$TARGETPLATFORM"\s*!=\s*"[^"]+"\s*\](?:\s*&&\s*\[\s*"\$TARGETPLATFORM"'
    r'\s*!=\s*"[^"]+"\s*\])*)\s*;\s*then\b[^;]*(?:;\s*)?\bexit\s+1\s*;?\s*fi$'
)
_GUARD_PLATFORM = re.compile(r'!=\s*"(?P<p>[^"]+)"')
_SETCAP = re.compile(
    r"\bsetcap\s+(?:-[a-z]\s+)*['\"]?(?P<caps>cap_[a-z_,]+)=\+?(?P<flags>[eip]+)['\"]?\s+(?P<path>/\S+)"
)
#: a docker-library image's download of a prebuilt release binary (traefik's library image:
#: ``wget -O /tmp/traefik.tar.gz "https://github.com/traefik/traefik/releases/download/..."``,
#: then ``tar xzvf /tmp/traefik.tar.gz -C /usr/local/bin traefik``): we do not reproduce it —
#: the payload package builds that program from source — so it is recorded, never run or ignored
_DOWNLOAD = re.compile(
    r"""\b(?:wget|curl)\b[^;&|]*?["']?(?P<url>https://github\.com/[^"'\s]+/releases/download/[^"'\s]+)"""
)
_UNTAR = re.compile(
    r"\btar\s+-?x[a-z]*f?\s+(?P<archive>/\S+)\s+-C\s+(?P<dir>/\S+)\s+(?P<member>[A-Za-z0-9_.-]+)"
)
_APK = re.compile(r"^apk(?:\s+-\S+)*\s+(?P<verb>add|upgrade|update)\b(?P<args>.*)$")
_ABS_PATH = re.compile(r"/[A-Za-z0-9_.+-]+(?:/[A-Za-z0-9_.+-]+)*")
#: busybox's adduser as Alpine images run it (klipper-helm: ``adduser -D -u 1000 -s /bin/bash
#: klipper-helm``): -D no password, -u uid, -s shell, -h home (default /home/<name>), -G group
_ADDUSER = re.compile(
    r"^adduser(?P<opts>(?:\s+-[DSH]|\s+-[ushgG]\s+\S+)*)\s+(?P<name>[a-z_][a-z0-9_-]*)$"
)

#: instructions that change nothing in the final image's config or files we must mirror
_IGNORED = {"LABEL", "SHELL", "ONBUILD", "HEALTHCHECK", "STOPSIGNAL", "MAINTAINER", "VOLUME"}


@dataclass
class Stage:
    base: str
    name: str
    lines: list[tuple[int, str, str]] = field(default_factory=list)  # (line, instruction, args)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    buf, start = "", 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if not buf:
            start = lineno
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        out.append((start, buf + line))
        buf = ""
    if buf:
        out.append((start, buf))
    return out


def _subst(value: str, args: dict[str, str]) -> str:
    """Docker's variable substitution: $v, ${v}, ${v:-default}, ${v#prefix}, ${v%suffix}."""

    def one(m: re.Match[str]) -> str:
        v = args.get(m.group("a") or m.group("b") or "", "")
        op, word = m.group("op"), m.group("word") or ""
        if op == ":-":
            return v or word
        if op == "#":
            return v.removeprefix(word)
        if op == "%":
            return v.removesuffix(word)
        return v

    return _ARG_REF.sub(one, value)


def _words(args: str, where: str) -> list[str]:
    """JSON (exec) form, or shell form as Docker runs it (``/bin/sh -c``)."""
    s = args.strip()
    if s.startswith("["):
        try:
            value = json.loads(s)
        except json.JSONDecodeError:
            raise InputError(f"{where}: malformed JSON form {s[:60]!r}", "") from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"{where}: JSON form must be a list of strings", "")
        return value
    return ["/bin/sh", "-c", s]


#: the architectures an image is written for (Docker's TARGETARCH)
ARCHES = ("amd64", "arm64")


def parse(text: str, where: str, arch: str = "") -> dict[str, Any]:
    """{base, config: {User, Entrypoint, Cmd, Env, WorkingDir, ExposedPorts}, capabilities:
    {path: {caps: [...], effective: bool}}} of the final stage, for ``arch`` (the values of
    the TARGETPLATFORM/TARGETARCH build arguments; "" when the Dockerfile must not need them)."""
    platform = {"TARGETPLATFORM": f"linux/{arch}", "TARGETARCH": arch} if arch else {}
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for lineno, line in _logical_lines(text):
        instr, _, rest = line.strip().partition(" ")
        instr = instr.upper()
        rest = rest.strip()
        if instr == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            if not words:
                raise InputError(f"{where}:{lineno}: FROM without an image", "")
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
            stages.append(Stage(_subst(words[0], global_args), name))
        elif not stages:
            if instr == "ARG":
                key, _, default = rest.partition("=")
                global_args[key.strip()] = default.strip().strip("\"'")
            else:
                raise InputError(f"{where}:{lineno}: {instr} before the first FROM", "")
        else:
            stages[-1].lines.append((lineno, instr, rest))
    if not stages:
        raise InputError(f"{where}: no FROM", "is this a Dockerfile?")
    caps: dict[str, dict[str, Any]] = {}  # (stage name) path -> caps, from setcap in RUN lines
    by_stage: dict[str, dict[str, dict[str, Any]]] = {}
    for i, st in enumerate(stages[:-1]):
        found: dict[str, dict[str, Any]] = {}
        for _lineno, instr, rest in st.lines:
            if instr == "RUN":
                for m in _SETCAP.finditer(rest):
                    found[m.group("path")] = {
                        "caps": sorted(m.group("caps").split(",")),
                        "effective": "e" in m.group("flags"),
                    }
        by_stage[st.name or str(i)] = found
    final = stages[-1]
    args = dict(global_args)
    config: dict[str, Any] = {}
    userland: list[str] = []
    users: list[dict[str, Any]] = []
    prebuilt: list[dict[str, str]] = []
    env: list[str] = []
    exposed: dict[str, dict[str, str]] = {}
    for lineno, instr, rest in final.lines:
        at = f"{where}:{lineno}"
        rest = _subst(rest, args) if instr not in ("RUN",) else rest
        if instr == "ARG":
            key, _, default = rest.partition("=")
            key = key.strip()
            args.setdefault(key, platform.get(key, default.strip().strip("\"'")))
        elif instr == "USER":
            config["User"] = rest.strip()
        elif instr == "ENTRYPOINT":
            config["Entrypoint"] = _words(rest, at)
            config.pop("Cmd", None)  # Docker resets CMD when ENTRYPOINT is set
        elif instr == "CMD":
            config["Cmd"] = _words(rest, at)
        elif instr == "WORKDIR":
            config["WorkingDir"] = rest.strip()
        elif instr == "ENV":
            if "=" in rest.split()[0]:
                pairs = [w.split("=", 1) for w in shlex.split(rest)]
            else:
                key, _, value = rest.partition(" ")
                pairs = [[key, value.strip()]]
            for key, value in pairs:
                env = [e for e in env if not e.startswith(key + "=")] + [f"{key}={value}"]
                args[key] = value  # later lines see it (ENV ARCH ${ARCH%/v7})
        elif instr == "EXPOSE":
            for port in rest.split():
                exposed[port if "/" in port else f"{port}/tcp"] = {}
        elif instr in ("COPY", "ADD"):
            words = shlex.split(rest)
            src_stage = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), "")
            paths = [w for w in words if not w.startswith("--")]
            if src_stage in by_stage and len(paths) == 2:
                src, dst = paths
                if src in by_stage[src_stage]:
                    caps[dst] = by_stage[src_stage][src]
        elif instr == "RUN":
            guard = _GUARD.match(rest.strip())
            if guard:
                allowed = _GUARD_PLATFORM.findall(guard.group("tests"))
                if not arch:
                    raise InputError(f"{at}: a TARGETPLATFORM guard needs the architecture", "")
                if f"linux/{arch}" not in allowed:
                    raise InputError(
                        f"{at}: upstream refuses linux/{arch} (it builds {', '.join(allowed)})", ""
                    )
                continue
            download = _prebuilt(rest)
            if download is not None:
                prebuilt.append(download)
                continue
            userland += _apk_packages(rest, at, users)
        elif instr not in _IGNORED:
            raise InputError(f"{at}: Dockerfile instruction {instr} not understood", "report it")
    if env:
        config["Env"] = env
    if exposed:
        config["ExposedPorts"] = dict(sorted(exposed.items()))
    out: dict[str, Any] = {"base": final.base, "config": config, "capabilities": caps}
    if userland:
        out["userland"] = sorted(set(userland))
    if users:
        out["users"] = users
    if prebuilt:
        out["prebuilt"] = prebuilt
    return out


def _prebuilt(command: str) -> dict[str, str] | None:
    """``{path, url}`` of a RUN that downloads a release binary from GitHub and unpacks one
    program of it into a directory (docker-library's traefik image), else None. The image
    assembly then requires our payload to put a program built from source at that path."""
    download = _DOWNLOAD.search(command)
    untar = _UNTAR.search(command)
    if download is None or untar is None:
        return None
    # the shell's variables (the architecture) as <name>: a lock fact holds no $
    url = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", r"<\1>", download["url"])
    return {"path": f"{untar['dir'].rstrip('/')}/{untar['member']}", "url": url}


def _adduser(opts: str, name: str, where: str) -> dict[str, Any]:
    """The account busybox's ``adduser`` makes (its own group of the same id, as ``-D``
    without ``-G`` does; uid 1000 when -u is not given, as busybox picks the first free one)."""
    words = opts.split()
    user: dict[str, Any] = {"name": name, "uid": 1000, "home": f"/home/{name}", "shell": "/bin/sh"}
    i = 0
    while i < len(words):
        flag = words[i]
        if flag in ("-D", "-S", "-H"):
            i += 1
            continue
        value = words[i + 1]
        if flag == "-u":
            if not value.isdigit():
                raise InputError(f"{where}: adduser -u {value!r} is not a number", "")
            user["uid"] = int(value)
        elif flag in ("-h", "-s"):
            if not _ABS_PATH.fullmatch(value) or ".." in value.split("/"):
                raise InputError(f"{where}: adduser {flag} {value!r} is not an absolute path", "")
            user["home" if flag == "-h" else "shell"] = value
        else:  # -g GECOS, -G group: not mirrored
            raise InputError(f"{where}: adduser {flag} not understood", "report it")
        i += 2
    user["gid"] = user["uid"]
    return user


def _apk_packages(command: str, where: str, users: list[dict[str, Any]] | None = None) -> list[str]:
    """The packages a final-stage ``RUN apk add ...`` installs (klipper-lb: iptables and
    friends on Alpine). We never use Alpine: the image gets the same programs from our own
    userland (k3s-root's busybox and xtables), so only package installs are understood; any
    other command in a final stage is an error naming the line."""
    pkgs: list[str] = []
    for part in re.split(r"&&|;", command):
        part = part.strip()
        if not part:
            continue
        added = _ADDUSER.match(part)
        if added and users is not None:
            users.append(_adduser(added.group("opts"), added.group("name"), where))
            continue
        m = _APK.match(part)
        if not m:
            raise InputError(
                f"{where}: RUN {part[:60]!r} in the final stage (the image would need it run)",
                "build this image's file tree in its payload package and say so in the docs",
            )
        if m.group("verb") == "add":
            pkgs += [w for w in m.group("args").split() if not w.startswith("-")]
    return pkgs


def read(text: str, where: str) -> dict[str, Any]:
    """A Dockerfile's image as lock facts, for every architecture in :data:`ARCHES`."""
    return to_facts({a: parse(text, where, a) for a in ARCHES})


def to_facts(parsed: dict[str, Any]) -> dict[str, Any]:
    """What :func:`parse` read (one result, or arch -> result), as lock facts: one-line JSON
    notes (paths, ``user:group`` and references are not fact tokens); ``_config`` when every
    architecture has the same config, else ``_config_<arch>`` each."""
    by_arch = {"": parsed} if "config" in parsed else parsed
    first = next(iter(by_arch.values()))
    out = {
        "_base": first["base"] or "scratch",
        "_capabilities": json.dumps(first["capabilities"], sort_keys=True),
        "userland": list(first.get("userland", [])),
    }
    if first.get("users"):  # accounts the final stage adds (a note: paths are not tokens)
        out["_users"] = json.dumps(first["users"], sort_keys=True)
    if first.get("prebuilt"):
        out["_prebuilt"] = json.dumps(first["prebuilt"], sort_keys=True)
    configs = {a: json.dumps(p["config"], sort_keys=True) for a, p in by_arch.items()}
    if len(set(configs.values())) == 1:
        out["_config"] = next(iter(configs.values()))
    else:
        out.update({f"_config_{a}": c for a, c in configs.items()})
    return out


def from_facts(facts: dict[str, Any], arch: str = "") -> dict[str, Any]:
    """The inverse of :func:`to_facts` (what the lock recorded), for ``arch``."""
    try:
        config = json.loads(facts.get("_config") or facts[f"_config_{arch}"])
        caps = json.loads(facts["_capabilities"])
    except (KeyError, TypeError, json.JSONDecodeError):
        raise InputError("the lock's image facts are malformed", "re-resolve") from None
    base = facts.get("_base", "")
    out = {"base": "" if base == "scratch" else base, "config": config, "capabilities": caps}
    if facts.get("userland"):
        out["userland"] = list(facts["userland"])
    if facts.get("_users"):
        try:
            out["users"] = json.loads(facts["_users"])
        except (TypeError, json.JSONDecodeError):
            raise InputError("the lock's image facts are malformed", "re-resolve") from None
    if facts.get("_prebuilt"):
        out["prebuilt"] = json.loads(facts["_prebuilt"])
    return out
