"""Facts from a K3s tag's own files, read without running them (the shell lines are evaluated
by :mod:`emtk3s.packages.k3s.shell`):

- ``scripts/version.sh`` and every file it sources (``scripts/platform.sh`` on main): its
  values — hard-coded ones, those computed from go.mod (its own ``go list -m`` functions, or
  grep/awk in the 2022 era; a replace wins, as go answers), per-architecture ones (the
  prebuilt k3s-root's ``K3S_ROOT_SHA256``) — whether it assigns ``VERSION_GOLANG`` (a network
  lookup) and whether its ``go list`` forces ``-mod=readonly``;
- ``scripts/download`` and ``scripts/build`` with what they source and the build steps
  ``scripts/build`` runs (``scripts/build-*.sh``): every ``git clone`` — the ``VERSION_*`` of
  its branch, its repository and directory — and whether the build stamps ``VERSION_GOLANG``;
- ``go.mod``: the minimum Go (and toolchain);
- ``manifests/``: the charts (``chart: .../static/charts/<name>-<version>.tgz``).

Nothing falls back to another era's layout: a clone line that cannot be read, a clone of a
repository the package has no Source for, or a value a Source needs that the files do not
give, is an error naming the file and line; ``[overrides]`` in release.toml may set any
``VERSION_*`` value (docs/packages/k3s.md#overrides).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from emtk3s.infra import checks
from emtk3s.infra.errors import InputError
from emtk3s.packages.k3s import shell

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout

_GOLANG_STAMP = re.compile(r"-X\s+\S+=\$\{?VERSION_GOLANG\b")
_OVERRIDE = re.compile(r"^VERSION_[A-Z0-9_]+$")

#: what the k3s package makes a Source of, by the VERSION_* a clone's branch names:
#: (repository expected, required). Any other clone is an error (the build would clone it
#: offline); the flannel plugin is cloned separately only from 1.29 on.
CLONES: dict[str, tuple[str, bool]] = {
    "VERSION_RUNC": ("opencontainers/runc", True),
    "VERSION_CONTAINERD": ("k3s-io/containerd", True),
    "VERSION_CNIPLUGINS": ("rancher/plugins", True),
    "VERSION_FLANNEL_PLUGIN": ("flannel-io/cni-plugin", False),
}
#: the scripts whose clones are read (scripts/build also through the steps it runs)
SCRIPTS = ("scripts/download", "scripts/build")

#: The values a build of this toolkit needs from version.sh.
REQUIRED = ("VERSION_ROOT",)


def is_value_override(key: str) -> bool:
    """``[overrides] VERSION_X = "..."`` sets a value of the K3s tag's files."""
    return bool(_OVERRIDE.match(key))


def short_name(var: str) -> str:
    """VERSION_CONTAINERD -> containerd, VERSION_K8S_K3S -> k8s_k3s, PKG_CONTAINERD_K3S -> ..."""
    for prefix in ("VERSION_", "PKG_"):
        if var.startswith(prefix):
            var = var[len(prefix) :]
    return var.lower()


def _override_hint(var: str) -> str:
    return (
        f'set it in release.toml: [overrides] {var} = "<version>" '
        "(docs/packages/k3s.md#overrides), or report this K3s era"
    )


def parse_version_sh(text: str, where: str = "scripts/version.sh") -> dict[str, str]:
    """The VERSION_* values a version.sh text gives by itself (no go.mod, no other file):
    hard-coded ones and those made from them. Each is validated as a tag; a malformed one is
    an error naming the file and line."""
    # (the files it sources are not at hand: read as empty)
    reader = shell.Reader(lambda p: text if p == where else "", lambda _k, _p: None)
    env = reader.run(where)
    return _values(env)


def _values(env: shell.Env) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in env.values.items():
        if not name.startswith("VERSION_") or not isinstance(value, str) or not value:
            continue
        try:
            found[name] = checks.tag(value, name)
        except InputError as exc:
            raise InputError(f"{env.where[name]}: {exc.message}", exc.hint) from None
    return found


_CHART = re.compile(
    r"^\s*chart:\s*\S*/static/charts/(?P<file>[A-Za-z0-9][A-Za-z0-9._+-]*\.tgz)\s*\Z"
)
_CHART_FILE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*?)-(?P<version>[0-9][0-9A-Za-z.+-]*)\.tgz\Z")


#: the charts the k3s package has Sources for (every manifests/ of 1.26 ... main names these)
CHARTS = ("traefik", "traefik-crd")


def parse_charts(files: dict[str, str], known: tuple[str, ...] = CHARTS) -> dict[str, str]:
    """Chart name -> version from manifests/*.yaml (`chart: https://%{KUBERNETES_API}%/static/charts/<file>`);
    a chart the package has no Source for is an error naming the file and line."""
    charts: dict[str, str] = {}
    for path, text in sorted(files.items()):
        for lineno, line in enumerate(text.splitlines(), start=1):
            m = _CHART.match(line)
            if not m:
                continue
            f = _CHART_FILE.fullmatch(m.group("file"))
            if not f:
                raise InputError(
                    f"{path}:{lineno}: chart file {m.group('file')!r} has no version", ""
                )
            if known and f.group("name") not in known:
                raise InputError(
                    f"{path}:{lineno}: the chart {f.group('name')} has no Source in the k3s package",
                    "report it: this K3s era bundles a new chart",
                )
            charts[f.group("name")] = checks.tag(
                f.group("version"), f"{path}:{lineno} chart version"
            )
    return charts


def repo_of(url: str) -> str | None:
    """owner/name of a GitHub clone URL (``https://github.com/x/y(.git)``), else None. A Go
    module path's major-version suffix (``https://${PKG_CONTAINERD_K3S}`` =
    github.com/k3s-io/containerd/v2) is not part of the repository."""
    url = re.sub(r"^https?://", "", url).removesuffix(".git").rstrip("/")
    parts = url.split("/")
    if len(parts) == 4 and re.fullmatch(r"v[0-9]+", parts[3]):
        parts = parts[:3]
    if len(parts) != 3 or parts[0] != "github.com":
        return None
    return f"{parts[1]}/{parts[2]}"


_CLONE_DIR_PART = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]{0,199}")


def _clone_dir(raw: str, where: str) -> None:
    """Refuse a clone directory no K3s script of any era uses and a spec must never see: a
    component starting with ``-`` or ``.`` (an option to tar or mv, a hidden directory), or
    characters beyond letters, digits and ``. _ + -`` (a quote, a glob, ``%{...}``)."""
    if not all(_CLONE_DIR_PART.fullmatch(p) for p in raw.split("/") if p):
        raise InputError(
            f"{where}: clone directory {raw[:80]!r} is not a plain relative path",
            "the tag's script clones somewhere emtk3s will not lay out; review the tag",
        )


def read_clones(
    clones: list[shell.Clone], values: dict[str, str], tag: str
) -> dict[str, dict[str, Any]]:
    """VERSION_* -> {repo, dir, version, from, line} for every clone; any clone that cannot be
    read, escapes build/src, or is one the package has no Source for is an error."""
    out: dict[str, dict[str, Any]] = {}
    for c in clones:
        where = f"{tag}:{c.where}"
        if isinstance(c.url, shell.Unknown) or isinstance(c.dest, shell.Unknown):
            u = c.url if isinstance(c.url, shell.Unknown) else c.dest
            assert isinstance(u, shell.Unknown)
            raise InputError(
                f"{where}: cannot tell where this git clone comes from or goes "
                f"({u.why}, at {u.where})",
                "report it: this K3s era is not understood yet",
            )
        repo = repo_of(c.url)
        if repo is None:
            raise InputError(f"{where}: clones {c.url!r}, which is no GitHub repository", "")
        if not c.dest.startswith("build/src/") or ".." in c.dest.split("/"):
            raise InputError(
                f"{where}: clones {repo} into {c.dest!r}, outside build/src", "report it"
            )
        _clone_dir(c.dest, where)
        if c.var not in CLONES:
            raise InputError(
                f"{where}: clones {repo} at {c.var}, which the k3s package has no Source for",
                "report it: this K3s era builds something new",
            )
        if c.var not in values:
            raise InputError(
                f"{where}: clones {repo} at {c.var}, which the tag's files give no value",
                _override_hint(c.var),
            )
        version = values[c.var]
        if version == "v0.0.0":  # version.sh's fallback: go.mod does not name the module
            raise InputError(
                f"{where}: clones {repo} at {c.var}, which version.sh leaves at v0.0.0 "
                "(go.mod does not name its module)",
                _override_hint(c.var),
            )
        out.setdefault(
            c.var,
            {"repo": repo, "dir": c.dest, "version": version, "from": c.file, "line": c.line},
        )
    for var, (_repo, required) in CLONES.items():
        if required and var not in out:
            raise InputError(
                f"{tag}: neither {' nor '.join(SCRIPTS)} (nor what they source or run) clones "
                f"anything at {var}",
                "report it: this K3s era is not understood yet",
            )
    return out


def read_facts(checkout: TagCheckout, overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything resolve learns from a K3s tag's files, without running them. ``overrides``:
    release.toml's ``[overrides] VERSION_* = ...`` values, which win over the files'."""
    from emtk3s.packages.k3s import gomod

    tag = checkout.info.tag
    overrides = {k: v for k, v in (overrides or {}).items() if is_value_override(k)}

    def text_of(path: str) -> str | None:
        if not checkout.exists(path):
            return None
        return checkout.read(path).decode("utf-8", "replace")

    facts: dict[str, Any] = {}
    mod = None
    gomod_text = text_of("go.mod")
    if gomod_text is not None:
        mod = gomod.parse(gomod_text, f"{tag}:go.mod")
        facts["go"] = mod.go  # the minimum Go go.mod accepts (not the compiler to use)
        if mod.toolchain:
            facts["toolchain"] = mod.toolchain

    def lookup(kind: str, path: str) -> tuple[str, str] | None:
        """What `go list -m -f` answers for a module (a replace wins)."""
        eff = mod.effective(path) if mod else None
        if not eff:
            return None
        return eff[0], eff[0] if kind == "path" else eff[1]

    reader = shell.Reader(text_of, lookup)
    try:
        venv = reader.run("scripts/version.sh")
        values = _values(venv)
        values.update(overrides)
        scripts_env = {
            s: reader.run(s, follow_runs=(s == "scripts/build"))
            for s in SCRIPTS
            if text_of(s) is not None
        }
    except InputError as exc:
        raise InputError(f"{tag}:{exc.message}", exc.hint) from None
    unused = sorted(set(overrides) - set(venv.values))
    if unused:
        raise InputError(
            f"release.toml: [overrides] {unused[0]}: no file of k3s-io/k3s {tag} assigns it",
            f"use one of {', '.join(sorted(n for n in venv.values if n.startswith('VERSION_')))}",
        )
    facts.update(values)
    if overrides:
        facts["overridden"] = sorted(overrides)
    modules: dict[str, dict[str, str]] = {}
    paths: dict[str, str] = {}
    for var, lk in sorted(venv.lookups.items()):
        if not lk.value:
            continue  # go.mod does not name it: version.sh falls back to v0.0.0
        if lk.kind == "path":
            paths[var] = lk.value
            continue
        version = overrides.get(var) or checks.tag(lk.value, f"{tag}:{lk.where} {var}")
        modules[short_name(var)] = {
            "var": var,
            "path": lk.path,
            "module": lk.module,
            "version": version,
        }
    facts["modules"] = modules
    facts["module_paths"] = paths
    per_arch = {
        var: arms for var, arms in sorted(venv.per_arm.items()) if var.startswith("K3S_ROOT")
    }
    if per_arch:
        facts["per_arch"] = per_arch
    build_texts = scripts_env["scripts/build"].texts if "scripts/build" in scripts_env else {}
    facts["golang"] = {
        "assigned": "VERSION_GOLANG" in venv.values,
        "stamped": any(_GOLANG_STAMP.search(t) for t in build_texts.values()),
        "readonly_list": venv.readonly_list,
    }
    facts["scripts"] = sorted({f for e in (venv, *scripts_env.values()) for f in e.files})
    clones = [c for e in scripts_env.values() for c in e.clones]
    facts["clones"] = read_clones(clones, values, tag)
    manifests = {
        f"{tag}:{p}": checkout.read(p).decode("utf-8", "replace") for p in _manifest_files(checkout)
    }
    facts["charts"] = parse_charts(manifests)
    return facts


def _manifest_files(checkout: TagCheckout) -> list[str]:
    """Every YAML file under manifests/ (list_dir walks the whole subtree)."""
    return [p for p in checkout.list_dir("manifests") if p.endswith((".yaml", ".yml"))]
