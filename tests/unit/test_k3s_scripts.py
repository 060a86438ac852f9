"""Reading a K3s tag's scripts without running them (emtk3s/packages/k3s/shell.py and
upstream.py): the module each VERSION_* comes from, what the build clones and where, the
expansions and sourced files the eras use. The lines below have the shapes the 1.26-era to
main scripts use (our own text)."""

from __future__ import annotations

import pytest

from emtk3s.infra.errors import InputError
from emtk3s.packages.k3s.shell import Reader, Unknown
from emtk3s.packages.k3s.upstream import read_clones, short_name
from emtk3s.packages.k3s.vendor import check_go

GO_MOD = {
    "github.com/containerd/containerd/v2": ("github.com/k3s-io/containerd/v2", "v2.0.4-k3s2"),
    "github.com/opencontainers/runc": ("github.com/opencontainers/runc", "v1.4.0"),
    "k8s.io/kubernetes": ("github.com/k3s-io/kubernetes", "v1.32.4-k3s1"),
}


def _reader(files: dict[str, str]) -> Reader:
    def modules(kind: str, path: str) -> tuple[str, str] | None:
        if path not in GO_MOD:
            return None
        mod, ver = GO_MOD[path]
        return mod, mod if kind == "path" else ver

    return Reader(files.get, modules)


VERSION_SH = """
get-module-version(){
  go list -mod=readonly -m -f '{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' $1
}
get-module-path(){
  go list -mod=readonly -m -f '{{if .Replace}}{{.Replace.Path}}{{else}}{{.Path}}{{end}}' $1
}
PKG_CONTAINERD_K3S=$(get-module-path github.com/containerd/containerd/v2)
VERSION_CONTAINERD=$(get-module-version github.com/containerd/containerd/v2)
if [ -z "$VERSION_CONTAINERD" ]; then
    VERSION_CONTAINERD="v0.0.0"
fi
VERSION_CRICTL=$(get-module-version sigs.k8s.io/cri-tools)
if [ -z "$VERSION_CRICTL" ]; then
    VERSION_CRICTL="v0.0.0"
fi
VERSION_K8S_K3S=$(get-module-version k8s.io/kubernetes)
VERSION_K8S=${VERSION_K8S_K3S%-k3s*}
export VERSION_RUNC="$(get-module-version "github.com/opencontainers/runc")"
VERSION_GOLANG="go"$(curl -sL "https://x/${VERSION_K8S}/.go-version" | tr -d '[:space:]')
VERSION_ROOT="v0.15.2"
case ${ARCH} in
    amd64)
      K3S_ROOT_SHA256=9e56393cf828583b50b6b0e66cc47cb6a5e1d0489eab1436421bc20c56c0cf65
    ;;
    arm64)
      K3S_ROOT_SHA256=7a754f4aeb1771b2b147ac8ff48fbc0a152f4ab1c6b4f16f94b1121e5eaaba50
    ;;
esac
"""


def test_module_lookups_fallbacks_expansions_and_per_arch_values() -> None:
    env = _reader({"scripts/version.sh": VERSION_SH}).run("scripts/version.sh")
    v = env.values
    assert v["PKG_CONTAINERD_K3S"] == "github.com/k3s-io/containerd/v2"
    assert v["VERSION_CONTAINERD"] == "v2.0.4-k3s2"  # the fallback block is skipped
    assert v["VERSION_CRICTL"] == "v0.0.0"  # go.mod does not name it: the fallback runs
    assert v["VERSION_K8S"] == "v1.32.4"  # ${VAR%-k3s*}
    assert v["VERSION_RUNC"] == "v1.4.0"  # a replace-only module: the replace answers
    assert isinstance(v["VERSION_GOLANG"], Unknown) and "curl" in v["VERSION_GOLANG"].why
    assert env.per_arm["K3S_ROOT_SHA256"]["arm64"].startswith("7a754f4a")
    assert env.readonly_list
    assert env.lookups["VERSION_RUNC"].path == "github.com/opencontainers/runc"
    assert short_name("VERSION_K8S_K3S") == "k8s_k3s"


def test_grep_awk_lookups_of_the_2022_era() -> None:
    gomod = (
        "replace (\n\tgithub.com/containerd/containerd => github.com/k3s-io/containerd "
        "v1.6.12-k3s1\n)\nrequire (\n\tgithub.com/containerd/containerd v1.6.12\n"
        "\tk8s.io/kubernetes v1.26.0\n)\n"
    )
    text = (
        "VERSION_CONTAINERD=$(grep github.com/containerd/containerd go.mod | head -n1 | "
        "awk '{print $4}')\n"
        "VERSION_K8S=$(grep 'k8s.io/kubernetes v' go.mod | head -n1 | awk '{print $2}')\n"
    )
    env = _reader({"scripts/version.sh": text, "go.mod": gomod}).run("scripts/version.sh")
    assert env.values["VERSION_CONTAINERD"] == "v1.6.12-k3s1"
    assert env.lookups["VERSION_CONTAINERD"].module == "github.com/k3s-io/containerd"
    assert env.values["VERSION_K8S"] == "v1.26.0"


def test_clones_through_sourced_files_expansions_and_subshells() -> None:
    files = {
        "scripts/version.sh": VERSION_SH + 'VERSION_CNIPLUGINS="v1.9.1-k3s1"\n'
        'VERSION_FLANNEL_PLUGIN="v1.9.0-flannel1"\n',
        "scripts/env-common.sh": "CONTAINERD_DIR=build/src/github.com/containerd/containerd\n"
        "CNI_PLUGINS_DIR=build/src/github.com/containernetworking/plugins\n",
        "scripts/download": 'cd "$(dirname "$0")/.."\n. ./scripts/version.sh\n'
        ". ./scripts/env-common.sh\n"
        'git clone --single-branch --branch="${VERSION_CONTAINERD}" --depth=1 '
        '"https://${PKG_CONTAINERD_K3S%/v[0-9]*}" "${CONTAINERD_DIR}"\n'
        'git clone -b "$VERSION_CNIPLUGINS" https://github.com/rancher/plugins.git '
        '"$CNI_PLUGINS_DIR"\n',
        "scripts/build": ". ./scripts/version.sh\n"
        "if [ ! -x bin/cni ]; then\n(\n    TMPDIR=$(mktemp -d)\n"
        "    WORKDIR=$TMPDIR/src/github.com/containernetworking/plugins\n"
        '    cd "$WORKDIR"\n'
        '    git clone --depth=1 --branch="$VERSION_FLANNEL_PLUGIN" '
        "https://github.com/flannel-io/cni-plugin.git plugins/meta/flannel\n)\nfi\n"
        "git clone --branch=$VERSION_RUNC https://github.com/opencontainers/runc "
        "build/src/github.com/opencontainers/runc\n",
    }
    r = _reader(files)
    env = r.run("scripts/download")
    env.clones += r.run("scripts/build", follow_runs=True).clones
    values = {k: v for k, v in r.run("scripts/version.sh").values.items() if isinstance(v, str)}
    clones = read_clones(env.clones, values, "v1.38.0+k3s1")
    assert clones["VERSION_CONTAINERD"]["repo"] == "k3s-io/containerd"
    assert clones["VERSION_CONTAINERD"]["dir"] == "build/src/github.com/containerd/containerd"
    assert clones["VERSION_CNIPLUGINS"]["from"] == "scripts/download"
    assert clones["VERSION_FLANNEL_PLUGIN"]["dir"] == (
        "build/src/github.com/containernetworking/plugins/plugins/meta/flannel"
    )
    assert clones["VERSION_FLANNEL_PLUGIN"]["line"] == 7
    assert clones["VERSION_RUNC"]["version"] == "v1.4.0"


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("git clone --branch=$VERSION_RUNC https://github.com/a/b ../../etc", "outside build/src"),
        ("git clone --branch=$VERSION_RUNC https://example.com/a/b build/src/x", "no GitHub"),
        ("git clone --branch=$VERSION_RUNC https://${UNKNOWN} build/src/y", "cannot tell"),
        ("git clone --branch=$VERSION_FOO https://github.com/a/b build/src/z", "no Source"),
        ("git clone https://github.com/a/b build/src/z", "cannot read this git clone"),
    ],
)
def test_a_clone_that_cannot_be_read_or_escapes_is_an_error(line: str, why: str) -> None:
    r = _reader({"scripts/download": f"VERSION_FOO=v1\n{line}\n"})
    with pytest.raises(InputError, match=why) as exc:
        env = r.run("scripts/download")
        read_clones(env.clones, {"VERSION_RUNC": "v1.2.5", "VERSION_FOO": "v1"}, "t")
    assert "scripts/download:2" in str(exc.value)


@pytest.mark.parametrize(
    "dest",
    [
        "../../etc",
        "/etc/k3s",
        "build/src/../../../etc",
        "build/src/-rf",
        "build/src/github.com/--upload-pack=x",
        "build/src/.hidden",
        "build/src/a*b",
        "build/src/a`id`b",
        "build/src/a'b",
        "build/src/a\\b",
        "build/src/a%{lua:x}",
    ],
)
def test_a_hostile_clone_directory_is_refused(dest: str) -> None:
    line = f"git clone --branch=$VERSION_RUNC https://github.com/opencontainers/runc {dest}"
    r = _reader({"scripts/download": f"{line}\n"})
    # refused as a directory, as an unreadable clone (a quote, a command substitution), or,
    # once the shell's quoting is undone (a\\b is ab), for what the tag lacks: never laid out
    with pytest.raises(InputError, match="clone") as exc:
        env = r.run("scripts/download")
        read_clones(env.clones, {"VERSION_RUNC": "v1.2.5"}, "v1.32.4+k3s1")
    assert "scripts/download" in str(exc.value)


def test_go_version_checks() -> None:
    from emtk3s.infra.errors import EnvironmentProblem

    check_go("go1.23.7", "1.23.6", "k3s.tar.gz")
    check_go("go1.24.0", "1.23", "k3s.tar.gz", "go1.24.0")
    with pytest.raises(EnvironmentProblem, match="go1.19.8 is older than go 1.23.6"):
        check_go("go1.19.8", "1.23.6", "k3s.tar.gz")
    with pytest.raises(EnvironmentProblem, match="made by go1.23.7, this go is go1.23.8"):
        check_go("go1.23.8", "1.23.6", "k3s.tar.gz", "go1.23.7")
