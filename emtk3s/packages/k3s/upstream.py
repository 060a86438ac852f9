"""Facts from a K3s tag's own files, read without running them.

- ``scripts/version.sh``: hard-coded ``VERSION_*`` values, and which module each computed
  ``VERSION_*``/``PKG_*`` comes from (its own ``get-module-version <path>`` and
  ``get-module-path <path>`` calls), whether it assigns ``VERSION_GOLANG`` (a network lookup)
  and whether its ``go list`` forces ``-mod=readonly``;
- ``go.mod``: what ``go list -m`` answers for those modules (a replace wins) and the minimum Go;
- ``scripts/download`` and ``scripts/build``: which repositories they ``git clone``, at which
  ``VERSION_*`` and into which directory (the k3s package's Sources and where ``%prep`` puts
  them), and whether the build stamps ``VERSION_GOLANG`` into the binary;
- ``manifests/*.yaml``: the charts.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING, Any

from emtk3s.infra import checks
from emtk3s.infra.errors import InputError

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout

# VERSION_ROOT="v0.14.1"   VERSION_ROOT=v0.14.1   VERSION_ROOT=${VERSION_ROOT:-"v0.14.1"}
_ASSIGN = re.compile(
    r"""^\s*(?:export\s+)?(?P<name>VERSION_[A-Z0-9_]+|K3S_ROOT_SHA256_[A-Za-z0-9_]+)="""
    r"""(?:\$\{(?P=name):?-(?P<q1>["']?)(?P<dflt>[^"'}$`\s]*)(?P=q1)\}"""
    r"""|(?P<q2>["']?)(?P<val>[^"'$`\s;]*)(?P=q2))\s*(?:#.*)?$"""
)
# VERSION_RUNC=$(get-module-version github.com/opencontainers/runc)
_MODULE_CALL = re.compile(
    r"""^\s*(?:export\s+)?(?P<var>[A-Z][A-Z0-9_]*)=["']?\$\(\s*get-module-(?P<kind>version|path)"""
    r"""\s+["']?(?P<path>[A-Za-z0-9][A-Za-z0-9._~/+-]*)["']?\s*\)"""
)
_GOLANG_ASSIGN = re.compile(r"^\s*(?:export\s+)?VERSION_GOLANG=", re.M)
_GOLANG_STAMP = re.compile(r"-X\s+\S+=\$\{?VERSION_GOLANG\b")
_READONLY = re.compile(r"\bgo[\"'}]*\s+list\b[^\n]*-mod=readonly")
# NAME_DIR=build/src/github.com/opencontainers/runc    WORKDIR=$TMPDIR/src/github.com/...
_DIR_ASSIGN = re.compile(r"^\s*(?:local\s+)?(?P<var>[A-Z][A-Z0-9_]*)=(?P<val>[^\s;&|#]+)\s*\Z")
_CLONE = re.compile(r"\bgit\s+clone\b(?P<args>[^\n;&|]*)")
_BRANCH = re.compile(r"--branch[= ]+[\"']?\$\{?(?P<var>[A-Z][A-Z0-9_]*)\}?[\"']?")

#: The values a build of this toolkit needs from version.sh.
REQUIRED = ("VERSION_ROOT",)

#: What upstream's 1.32-era scripts clone, used for a tag whose scripts do not say it readably.
DEFAULT_CLONES: dict[str, dict[str, str]] = {
    "VERSION_RUNC": {
        "repo": "opencontainers/runc",
        "dir": "build/src/github.com/opencontainers/runc",
    },
    "VERSION_CONTAINERD": {
        "repo": "k3s-io/containerd",
        "dir": "build/src/github.com/containerd/containerd",
    },
    "VERSION_CNIPLUGINS": {
        "repo": "rancher/plugins",
        "dir": "build/src/github.com/containernetworking/plugins",
    },
    "VERSION_FLANNEL_PLUGIN": {
        "repo": "flannel-io/cni-plugin",
        "dir": "build/src/github.com/containernetworking/plugins/plugins/meta/flannel",
    },
}


def parse_version_sh(text: str, where: str = "scripts/version.sh") -> dict[str, str]:
    """Hard-coded assignments only; values computed by commands (``$(go list ...)``) are skipped.

    Each value is validated as a tag; a malformed one is an error naming the file and line.
    """
    found: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        m = _ASSIGN.match(line)
        if not m:
            continue
        value = m.group("dflt") if m.group("dflt") is not None else m.group("val")
        if not value:
            continue
        name = m.group("name")
        try:
            checks.tag(value, name)
        except InputError as exc:
            raise InputError(f"{where}:{lineno}: {exc.message}", exc.hint) from None
        found.setdefault(name, value)
    return found


def parse_module_calls(text: str) -> dict[str, tuple[str, str]]:
    """VAR -> (version|path, module) for each ``VAR=$(get-module-version|path <module>)``."""
    calls: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        m = _MODULE_CALL.match(line)
        if m:
            calls.setdefault(m.group("var"), (m.group("kind"), m.group("path")))
    return calls


def short_name(var: str) -> str:
    """VERSION_CONTAINERD -> containerd, VERSION_K8S_K3S -> k8s_k3s, PKG_CONTAINERD_K3S -> ..."""
    for prefix in ("VERSION_", "PKG_"):
        if var.startswith(prefix):
            var = var[len(prefix) :]
    return var.lower()


def require(facts: dict[str, str], names: tuple[str, ...], where: str) -> None:
    for name in names:
        if name not in facts:
            raise InputError(
                f"{where}: no hard-coded {name}",
                "this K3s era is not understood; set it in release.toml (e.g. k3s_root)",
            )


_CHART = re.compile(
    r"^\s*chart:\s*\S*/static/charts/(?P<file>[A-Za-z0-9][A-Za-z0-9._+-]*\.tgz)\s*\Z"
)
_CHART_FILE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*?)-(?P<version>[0-9][0-9A-Za-z.+-]*)\.tgz\Z")


def parse_charts(files: dict[str, str]) -> dict[str, str]:
    """Chart name -> version from manifests/*.yaml (`chart: https://%{KUBERNETES_API}%/static/charts/<file>`)."""
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
            charts[f.group("name")] = checks.tag(
                f.group("version"), f"{path}:{lineno} chart version"
            )
    return charts


def _repo_of(url: str, paths: dict[str, str]) -> str | None:
    """owner/name of a clone URL (``https://github.com/x/y.git``, ``https://${PKG_X}``)."""
    for var, path in paths.items():
        url = url.replace("${" + var + "}", path).replace("$" + var, path)
    url = url.strip("\"'")
    if "$" in url:
        return None
    url = re.sub(r"^https?://", "", url).removesuffix(".git").rstrip("/")
    parts = url.split("/")
    if len(parts) >= 4 and re.fullmatch(r"v[0-9]+", parts[-1]):  # a module's /vN suffix
        parts = parts[:-1]
    if len(parts) != 3 or parts[0] != "github.com":
        return None
    return f"{parts[1]}/{parts[2]}"


_CLONE_DIR_PART = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]{0,199}")


def _clone_dir(raw: str, where: str) -> None:
    """Refuse a clone directory no K3s script of any era uses and a spec must never see: an
    absolute path, a ``..`` component, a component starting with ``-`` or ``.`` (an option to
    tar or mv, a hidden directory), or characters beyond letters, digits and ``. _ + -``."""
    parts = raw.split("/")
    if raw.startswith("/") or not all(_CLONE_DIR_PART.fullmatch(p) for p in parts if p):
        raise InputError(
            f"{where}: clone directory {raw[:80]!r} is not a plain relative path",
            "the tag's script clones somewhere emtk3s will not lay out; review the tag",
        )


def parse_clones(
    text: str, paths: dict[str, str], where: str = "script"
) -> dict[str, dict[str, str]]:
    """VERSION_* -> {repo, dir} for each ``git clone --branch=$VERSION_* <url> <dir>`` of a
    script. ``$TMPDIR``-style scratch GOPATHs become ``build/``; a relative directory is taken
    inside the previous clone (scripts/build clones flannel's plugin into the plugins tree).
    A clone of a recognized repository into a hostile directory (absolute, ``..``, a leading
    ``-``, odd characters) is refused (exit 2), never silently dropped or kept."""
    dirs: dict[str, str] = {}
    clones: dict[str, dict[str, str]] = {}
    last = ""
    for line in text.splitlines():
        a = _DIR_ASSIGN.match(line)
        if a and ("/" in a.group("val")):
            val = a.group("val").strip("\"'")
            val = re.sub(r"^\$\{?(TMPDIR|TMP_DIR|GOPATH)\}?/", "build/", val)
            dirs[a.group("var")] = val
        m = _CLONE.search(line)
        if not m:
            continue
        b = _BRANCH.search(m.group("args"))
        if not b:
            continue
        words = [w for w in _BRANCH.sub(" ", m.group("args")).split() if not w.startswith("-")]
        if len(words) < 2:
            continue
        repo = _repo_of(words[0], paths)
        dest = words[1].strip("\"'")
        for var, val in dirs.items():
            dest = dest.replace("${" + var + "}", val).replace("$" + var, val)
        if repo is None or "$" in dest:
            continue
        _clone_dir(dest, where)
        if not dest.startswith("build/"):
            if not last:
                continue
            dest = posixpath.join(last, dest)
        dest = posixpath.normpath(dest)
        if not dest.startswith("build/src/") or ".." in dest:
            continue
        clones.setdefault(b.group("var"), {"repo": repo, "dir": dest})
        last = dest
    return clones


def read_facts(checkout: TagCheckout) -> dict[str, Any]:
    """Everything resolve learns from a K3s tag's files, without running them."""
    from emtk3s.packages.k3s import gomod

    tag = checkout.info.tag

    def text_of(path: str) -> str:
        return checkout.read(path).decode("utf-8", "replace") if checkout.exists(path) else ""

    version_sh = text_of("scripts/version.sh")
    facts: dict[str, Any] = dict(parse_version_sh(version_sh, f"{tag}:scripts/version.sh"))
    calls = parse_module_calls(version_sh)
    modules: dict[str, dict[str, str]] = {}
    paths: dict[str, str] = {}
    if checkout.exists("go.mod"):
        mod = gomod.parse(checkout.read("go.mod").decode("utf-8", "replace"), f"{tag}:go.mod")
        for var, (kind, path) in sorted(calls.items()):
            eff = mod.effective(path)
            if not eff:
                continue  # version.sh then falls back to v0.0.0: nothing to fetch
            if kind == "path":
                paths[var] = eff[0]
                continue
            modules[short_name(var)] = {
                "var": var,
                "path": path,
                "module": eff[0],
                "version": checks.tag(eff[1], f"{tag}:go.mod {path}"),
            }
            facts.setdefault(var, modules[short_name(var)]["version"])
        facts["go"] = mod.go  # the minimum Go go.mod accepts (not the compiler to use)
        if mod.toolchain:
            facts["toolchain"] = mod.toolchain
    facts["modules"] = modules
    facts["module_paths"] = paths
    build = text_of("scripts/build")
    facts["golang"] = {
        "assigned": bool(_GOLANG_ASSIGN.search(version_sh)),
        "stamped": bool(_GOLANG_STAMP.search(build)),
        "readonly_list": bool(_READONLY.search(version_sh)),
    }
    clones: dict[str, dict[str, str]] = {}
    for script in ("scripts/download", "scripts/build"):
        for var, c in parse_clones(text_of(script), paths, f"{tag}:{script}").items():
            clones.setdefault(var, {**c, "from": script})
    for var, c in DEFAULT_CLONES.items():
        if var not in clones:
            clones[var] = {**c, "from": "default/1.32-layout"}
    facts["clones"] = {
        var: {**c, "version": facts[var]} for var, c in sorted(clones.items()) if var in facts
    }
    manifests = {
        f"{tag}:{p}": checkout.read(p).decode("utf-8", "replace")
        for p in checkout.list_dir("manifests")
        if p.endswith(".yaml")
    }
    facts["charts"] = parse_charts(manifests)
    return facts
