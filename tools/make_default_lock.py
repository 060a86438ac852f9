"""Make the committed default lock (emtk3s.lock for release.toml) from local clones of the real
upstream repositories, with the same code resolve runs, where upstream hosts are unreachable.

    .venv/bin/python tools/make_default_lock.py MIRROR_ROOT

MIRROR_ROOT holds bare clones named <owner>+<repo>/repo (k3s-io+k3s-root, buildroot+buildroot,
containers+fuse-overlayfs, rootless-containers+slirp4netns). The K3s repository itself was too
large to clone there: its commit stays null (unverified, `emtk3s resolve --refresh` fills it) and
its facts are the public record of EMT's spec for v1.32.4+k3s1 (`facts._source` says so).
With network access, plain `emtk3s resolve` replaces all of this.
"""

import sys
from pathlib import Path

from emtk3s.infra.git import fetch_tag
from emtk3s.model import lock as lockmod
from emtk3s.model import package as pkgs
from emtk3s.model import release as manifest
from emtk3s.model.lock import Component, Lock, PackageLock
from emtk3s.model.versions import component_version
from emtk3s.stages.resolve import _sources, input_digest

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
rel = manifest.load(Path("release.toml"), environ={})
K3S_FACTS = {
    "_source": "public record: EMT's SPECS/k3s/k3s.spec for v1.32.4+k3s1 (not read from the tag here)",
    "VERSION_ROOT": "v0.14.1",
    "VERSION_CNIPLUGINS": "v1.6.0-k3s1",
    "VERSION_FLANNEL_PLUGIN": "v1.6.0-flannel1",
    "modules": {
        "runc": {"module": "github.com/opencontainers/runc", "version": "v1.2.5"},
        "containerd": {"module": "github.com/k3s-io/containerd/v2", "version": "v2.0.4-k3s2"},
    },
    "charts": {"traefik-crd": "34.2.1+up34.2.0", "traefik": "34.2.1+up34.2.0"},
}
comps = {"k3s": Component("k3s", "k3s-io/k3s", rel.k3s.tag, None, None, K3S_FACTS)}
checkouts = {}
selected = pkgs.select(list(rel.packages))
wanted = sorted({c for p in selected for c in (p.component, *p.components)})
for name in pkgs.component_order(wanted):
    if name == "k3s":
        continue
    cdef = pkgs.COMPONENTS[name]
    tag = rel.overrides.get(name) or cdef.tag(pkgs.ResolveContext(rel, comps))
    co = fetch_tag(Path("/tmp/emtk3s-default-lock-cache"), "file://" + MIRRORS[cdef.repo], tag)
    facts = cdef.facts(co) if cdef.facts else {}
    comps[name] = Component(name, cdef.repo, tag, co.info.commit, co.info.commit_time, facts)
    checkouts[name] = co
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
        print(p.name, s.name, s.origin, s.sha256)
