"""Make the committed default lock (emtk3s.lock for release.toml) from local clones of the real
upstream repositories, with the same code resolve runs, where upstream hosts are unreachable.

    .venv/bin/python tools/make_default_lock.py MIRROR_ROOT

MIRROR_ROOT holds bare clones named <owner>+<repo>/repo (k3s-io+k3s-root, buildroot+buildroot,
containers+fuse-overlayfs, rootless-containers+slirp4netns). The K3s repository itself was too
large to clone there: its commit comes from a public record (nixpkgs' versions.nix for
v1.32.4+k3s1, `facts._commit_source` says so; the commit time is the release date) and its
facts are the public record of EMT's spec and patches for v1.32.4+k3s1 (`facts._source`). The
Go vendor tarball cannot be made without the module proxy: it stays unpinned, and SPECS/k3s
names it PENDING until `emtk3s vendor` (or fetch) runs with network.
With network access, plain `emtk3s resolve` replaces all of this.
"""

import sys
from pathlib import Path

from emtk3s import catalog
from emtk3s.infra.git import fetch_tag
from emtk3s.model import lock as lockmod
from emtk3s.model import package as pkgs
from emtk3s.model import release as release_toml
from emtk3s.model.lock import Component, Lock, PackageLock
from emtk3s.model.versions import component_version
from emtk3s.stages.resolve import _sources, input_digest

CATALOG = catalog.load()

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror")
MIRRORS = {
    repo: str(ROOT / repo.replace("/", "+") / "repo")
    for repo in (
        "k3s-io/k3s-root",
        "buildroot/buildroot",
        "containers/fuse-overlayfs",
        "rootless-containers/slirp4netns",
    )
}
rel = release_toml.load(Path("release.toml"), CATALOG, environ={})
K3S_FACTS = {
    "_source": "public record: EMT's SPECS/k3s/k3s.spec and its patches for v1.32.4+k3s1 "
    "(scripts/build, scripts/version.sh context lines); go: the Go of the release notes "
    "(1.23.6); not read from the tag here",
    "_commit_source": "public record: nixpkgs pkgs/applications/networking/cluster/k3s/1_32/"
    "versions.nix (k3sCommit for 1.32.4+k3s1); commit_time: the release date 2025-04-23",
    "VERSION_ROOT": "v0.14.1",
    "VERSION_CNIPLUGINS": "v1.6.0-k3s1",
    "VERSION_FLANNEL_PLUGIN": "v1.6.0-flannel1",
    "VERSION_RUNC": "v1.2.5",
    "VERSION_CONTAINERD": "v2.0.4-k3s2",
    "go": "1.23.6",
    "golang": {"assigned": True, "stamped": True},
    "modules": {
        "runc": {
            "var": "VERSION_RUNC",
            "path": "github.com/opencontainers/runc",
            "module": "github.com/opencontainers/runc",
            "version": "v1.2.5",
        },
        "containerd": {
            "var": "VERSION_CONTAINERD",
            "path": "github.com/containerd/containerd/v2",
            "module": "github.com/k3s-io/containerd/v2",
            "version": "v2.0.4-k3s2",
        },
    },
    "clones": {
        "VERSION_RUNC": {
            "repo": "opencontainers/runc",
            "dir": "build/src/github.com/opencontainers/runc",
            "version": "v1.2.5",
            "from": "public-record/emt-spec",
        },
        "VERSION_CONTAINERD": {
            "repo": "k3s-io/containerd",
            "dir": "build/src/github.com/containerd/containerd",
            "version": "v2.0.4-k3s2",
            "from": "public-record/emt-spec",
        },
        "VERSION_CNIPLUGINS": {
            "repo": "rancher/plugins",
            "dir": "build/src/github.com/containernetworking/plugins",
            "version": "v1.6.0-k3s1",
            "from": "public-record/emt-spec+k3s-build.patch",
        },
        "VERSION_FLANNEL_PLUGIN": {
            "repo": "flannel-io/cni-plugin",
            "dir": "build/src/github.com/containernetworking/plugins/plugins/meta/flannel",
            "version": "v1.6.0-flannel1",
            "from": "public-record/emt-spec+flannel.patch",
        },
    },
    "charts": {"traefik-crd": "34.2.1+up34.2.0", "traefik": "34.2.1+up34.2.0"},
}
K3S_COMMIT = "6b330558e47a257134434508c851193bb4e9bf9d"
K3S_TIME = 1745366400  # 2025-04-23T00:00:00Z, the v1.32.4+k3s1 release date
comps = {"k3s": Component("k3s", "k3s-io/k3s", rel.k3s.tag, K3S_COMMIT, K3S_TIME, K3S_FACTS)}
checkouts = {}
selected = CATALOG.select(list(rel.packages))
wanted = sorted({c for p in selected for c in (p.component, *p.components)})
for name in CATALOG.component_order(wanted):
    if name == "k3s":
        continue
    cdef = CATALOG.components[name]
    tag = rel.overrides.get(name) or cdef.tag(pkgs.ResolveContext(rel, comps))
    co = fetch_tag(Path("/tmp/emtk3s-default-lock-cache"), "file://" + MIRRORS[cdef.repo], tag)
    facts = cdef.facts(co) if cdef.facts else {}
    checkouts[name] = co
    if cdef.derived is not None:  # buildroot: show-info on both trees, run contained
        facts.update(cdef.derived(co, checkouts, rel))
    comps[name] = Component(name, cdef.repo, tag, co.info.commit, co.info.commit_time, facts)
packages = {}
for pdef in selected:
    comp = comps[pdef.component]
    packages[pdef.name] = PackageLock(
        pdef.name,
        component_version(comp.tag),
        pdef.component,
        tuple(_sources(pdef, comp, checkouts.get(pdef.component), None, comps, rel, checkouts)),
    )
lock = Lock(input_digest(rel), rel.k3s.tag, comps, packages)
lockmod.write(Path("emtk3s.lock"), lock)
for n, c in comps.items():
    print(n, c.tag, c.commit, c.commit_time)
for p in packages.values():
    for s in p.sources:
        print(p.name, s.name, s.origin, s.sha256 or f"pending (sha512 {s.sha512})")
