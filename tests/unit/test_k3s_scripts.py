"""Reading a K3s tag's scripts without running them (emtk3s/packages/k3s/upstream.py): the
module each VERSION_* comes from, what the build clones and where, VERSION_GOLANG. The lines
below have the shapes the 1.32-era and later scripts use (our own text)."""

from __future__ import annotations

import pytest

from emtk3s.infra.errors import InputError
from emtk3s.packages.k3s.upstream import parse_clones, parse_module_calls, short_name
from emtk3s.packages.k3s.vendor import check_go

VERSION_SH = """
get-module-version(){
  go list -mod=readonly -m -f '{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' $1
}
PKG_CONTAINERD_K3S=$(get-module-path github.com/containerd/containerd/v2)
VERSION_CONTAINERD=$(get-module-version github.com/containerd/containerd/v2)
VERSION_CRICTL=$(get-module-version sigs.k8s.io/cri-tools)
VERSION_K8S_K3S=$(get-module-version k8s.io/kubernetes)
export VERSION_RUNC="$(get-module-version "github.com/opencontainers/runc")"
"""


def test_module_calls_are_read_from_version_sh() -> None:
    calls = parse_module_calls(VERSION_SH)
    assert calls == {
        "PKG_CONTAINERD_K3S": ("path", "github.com/containerd/containerd/v2"),
        "VERSION_CONTAINERD": ("version", "github.com/containerd/containerd/v2"),
        "VERSION_CRICTL": ("version", "sigs.k8s.io/cri-tools"),
        "VERSION_K8S_K3S": ("version", "k8s.io/kubernetes"),
        "VERSION_RUNC": ("version", "github.com/opencontainers/runc"),
    }
    assert short_name("VERSION_K8S_K3S") == "k8s_k3s"
    # another era asks for other module paths: they are what is read, not a table
    older = "VERSION_CONTAINERD=$(get-module-version github.com/containerd/containerd)\n"
    assert parse_module_calls(older) == {
        "VERSION_CONTAINERD": ("version", "github.com/containerd/containerd")
    }


def test_clones_of_download_and_build() -> None:
    download = (
        "RUNC_DIR=build/src/github.com/opencontainers/runc\n"
        "CONTAINERD_DIR=build/src/github.com/containerd/containerd\n"
        "git clone --single-branch --branch=${VERSION_RUNC} --depth=1 "
        "https://github.com/opencontainers/runc ${RUNC_DIR}\n"
        "git clone --single-branch --branch=${VERSION_CONTAINERD} --depth=1 "
        "https://${PKG_CONTAINERD_K3S} ${CONTAINERD_DIR}\n"
    )
    paths = {"PKG_CONTAINERD_K3S": "github.com/k3s-io/containerd/v2"}
    assert parse_clones(download, paths) == {
        "VERSION_RUNC": {
            "repo": "opencontainers/runc",
            "dir": "build/src/github.com/opencontainers/runc",
        },
        "VERSION_CONTAINERD": {
            "repo": "k3s-io/containerd",  # the module's /v2 is not part of the repository
            "dir": "build/src/github.com/containerd/containerd",
        },
    }
    build = (
        "    TMPDIR=$(mktemp -d)\n"
        "    WORKDIR=$TMPDIR/src/github.com/containernetworking/plugins\n"
        "    git clone --single-branch --depth=1 --branch=$VERSION_CNIPLUGINS "
        "https://github.com/rancher/plugins.git $WORKDIR\n"
        "    cd $WORKDIR\n"
        "    git clone --single-branch --depth=1 --branch=$VERSION_FLANNEL_PLUGIN "
        "https://github.com/flannel-io/cni-plugin.git plugins/meta/flannel\n"
    )
    assert parse_clones(build, {}) == {
        "VERSION_CNIPLUGINS": {
            "repo": "rancher/plugins",
            "dir": "build/src/github.com/containernetworking/plugins",
        },
        "VERSION_FLANNEL_PLUGIN": {
            "repo": "flannel-io/cni-plugin",
            "dir": "build/src/github.com/containernetworking/plugins/plugins/meta/flannel",
        },
    }


def test_a_clone_that_is_not_github_or_not_under_build_src_is_ignored() -> None:
    text = (
        "git clone --branch=$VERSION_Y https://example.com/a/b build/src/x\n"
        "git clone --branch=$VERSION_Z https://${UNKNOWN} build/src/y\n"
        "git clone --branch=$VERSION_W https://github.com/a/b build/other/w\n"
    )
    assert parse_clones(text, {}) == {}


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
    text = (
        "RUNC_DIR=build/src/github.com/opencontainers/runc\n"
        "git clone --branch=${VERSION_RUNC} https://github.com/opencontainers/runc ${RUNC_DIR}\n"
        f"git clone --branch=$VERSION_X https://github.com/a/b {dest}\n"
    )
    with pytest.raises(InputError, match="v1.32.4.k3s1:scripts/download: clone directory"):
        parse_clones(text, {}, "v1.32.4+k3s1:scripts/download")


def test_go_version_checks() -> None:
    import pytest

    from emtk3s.infra.errors import EnvironmentProblem

    check_go("go1.23.7", "1.23.6", "k3s.tar.gz")
    check_go("go1.24.0", "1.23", "k3s.tar.gz", "go1.24.0")
    with pytest.raises(EnvironmentProblem, match="go1.19.8 is older than go 1.23.6"):
        check_go("go1.19.8", "1.23.6", "k3s.tar.gz")
    with pytest.raises(EnvironmentProblem, match="made by go1.23.7, this go is go1.23.8"):
        check_go("go1.23.8", "1.23.6", "k3s.tar.gz", "go1.23.7")
