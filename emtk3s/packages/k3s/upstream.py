"""Facts from a K3s tag's own files: ``scripts/version.sh`` (hard-coded VERSION_* values)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from emtk3s.infra import checks as validate
from emtk3s.infra.errors import InputError

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout

# VERSION_ROOT="v0.14.1"   VERSION_ROOT=v0.14.1   VERSION_ROOT=${VERSION_ROOT:-"v0.14.1"}
_ASSIGN = re.compile(
    r"""^\s*(?:export\s+)?(?P<name>VERSION_[A-Z0-9_]+|K3S_ROOT_SHA256_[A-Za-z0-9_]+)="""
    r"""(?:\$\{(?P=name):?-(?P<q1>["']?)(?P<dflt>[^"'}$`\s]*)(?P=q1)\}"""
    r"""|(?P<q2>["']?)(?P<val>[^"'$`\s;]*)(?P=q2))\s*(?:#.*)?$"""
)

#: The values a build of this toolkit needs from version.sh.
REQUIRED = ("VERSION_ROOT",)


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
            validate.tag(value, name)
        except InputError as exc:
            raise InputError(f"{where}:{lineno}: {exc.message}", exc.hint) from None
        found.setdefault(name, value)
    return found


def require(facts: dict[str, str], names: tuple[str, ...], where: str) -> None:
    for name in names:
        if name not in facts:
            raise InputError(
                f"{where}: no hard-coded {name}",
                "this K3s era is not understood; set it in release.toml (e.g. k3s_root)",
            )


#: name -> the module whose effective version version.sh reads with `go list -m`
MODULES = {
    "containerd": "github.com/containerd/containerd/v2",
    "runc": "github.com/opencontainers/runc",
    "kubernetes": "k8s.io/kubernetes",
    "flannel": "github.com/flannel-io/flannel",
    "crictl": "sigs.k8s.io/cri-tools",
    "cri-dockerd": "github.com/Mirantis/cri-dockerd",
    "kube-router": "github.com/cloudnativelabs/kube-router/v2",
}
_CHART = re.compile(
    r"^\s*chart:\s*\S*/static/charts/(?P<file>[A-Za-z0-9][A-Za-z0-9._+-]*\.tgz)\s*$"
)
_CHART_FILE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*?)-(?P<version>[0-9][0-9A-Za-z.+-]*)\.tgz$")


def parse_charts(files: dict[str, str]) -> dict[str, str]:
    """Chart name -> version from manifests/*.yaml (`chart: https://%{KUBERNETES_API}%/static/charts/<file>`)."""
    charts: dict[str, str] = {}
    for path, text in sorted(files.items()):
        for lineno, line in enumerate(text.splitlines(), start=1):
            m = _CHART.match(line)
            if not m:
                continue
            f = _CHART_FILE.match(m.group("file"))
            if not f:
                raise InputError(
                    f"{path}:{lineno}: chart file {m.group('file')!r} has no version", ""
                )
            charts[f.group("name")] = validate.tag(
                f.group("version"), f"{path}:{lineno} chart version"
            )
    return charts


def read_facts(checkout: TagCheckout) -> dict[str, Any]:
    """Everything resolve learns from a K3s tag's files, without running them: version.sh's
    hard-coded values, go.mod's module versions (a replace wins, as `go list -m` answers), the
    Go version, and the charts of manifests/*.yaml."""
    from emtk3s.packages.k3s import gomod

    tag = checkout.info.tag
    text = checkout.read("scripts/version.sh").decode("utf-8", "replace")
    facts: dict[str, Any] = dict(parse_version_sh(text, f"{tag}:scripts/version.sh"))
    if checkout.exists("go.mod"):
        mod = gomod.parse(checkout.read("go.mod").decode("utf-8", "replace"), f"{tag}:go.mod")
        modules: dict[str, dict[str, str]] = {}
        for name, path in MODULES.items():
            eff = mod.effective(path)
            if eff:
                modules[name] = {
                    "module": eff[0],
                    "version": validate.tag(eff[1], f"{tag}:go.mod {path}"),
                }
        facts["modules"] = modules
        facts["go"] = mod.toolchain.removeprefix("go") if mod.toolchain else mod.go
    manifests = {
        f"{tag}:{p}": checkout.read(p).decode("utf-8", "replace")
        for p in checkout.list_dir("manifests")
        if p.endswith(".yaml")
    }
    facts["charts"] = parse_charts(manifests)
    return facts
