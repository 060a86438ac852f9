"""Make the committed default lock (emtk3s.lock for release.toml) from local clones of the real
upstream repositories, with the same code resolve runs, where upstream hosts are unreachable.

    .venv/bin/python tools/make_default_lock.py MIRROR_ROOT

MIRROR_ROOT holds bare clones named <owner>+<repo>/repo (k3s-io+k3s-root, buildroot+buildroot,
containers+fuse-overlayfs, rootless-containers+slirp4netns, and for the addon images
coredns+coredns, k3s-io+klipper-lb, kubernetes-sigs+metrics-server,
rancher+local-path-provisioner, traefik+traefik, traefik+traefik-library-image, k3s-io+klipper-helm,
helm+helm, k3s-io+helm-set-status, helm+helm-mapkubeapis). The K3s repository itself was too
large to clone there: its commit comes from a public record (nixpkgs' versions.nix for
v1.32.4+k3s1, `facts._commit_source` says so; the commit time is the release date) and its
facts are the public record of EMT's spec and patches for v1.32.4+k3s1 (`facts._source`). The
Go vendor tarball cannot be made without the module proxy: it stays unpinned, and SPECS/k3s
names it PENDING until `emtk3s vendor` (or fetch) runs with network.
The addon images' list (component k3s-images, same K3s tag) is the public record of the tag's
`scripts/airgap/image-list.txt` (`facts._source` says so). Kubernetes, too large to clone, gives
the pause program (component kubernetes-pause at v1.23.0) from its Go module zip
k8s.io/kubernetes@v1.23.0 (`go mod download`, checked against sum.golang.org): pass its directory
as KUBERNETES_DIR; its files become a one-commit git tree so that the same facts and git-blob
pins are read, and the component records the tag's real commit (public record).

    .venv/bin/python tools/make_default_lock.py MIRROR_ROOT KUBERNETES_DIR

With network access, plain `emtk3s resolve` replaces all of this.
"""

import subprocess
import sys
import tempfile
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
        "coredns/coredns",
        "k3s-io/klipper-lb",
        "kubernetes-sigs/metrics-server",
        "rancher/local-path-provisioner",
        "traefik/traefik",
        "traefik/traefik-library-image",
        "k3s-io/klipper-helm",
        "helm/helm",
        "k3s-io/helm-set-status",
        "helm/helm-mapkubeapis",
    )
}
KUBERNETES = Path(sys.argv[2] if len(sys.argv) > 2 else "")
#: the files of kubernetes' tree the pause component reads (facts and git-blob sources)
KUBERNETES_FILES = (
    "LICENSE",
    "build/pause/Makefile",
    "build/pause/Dockerfile",
    "build/pause/linux/pause.c",
)
#: kubernetes v1.23.0: the commit `kubectl version` reports for it (public record), and the
#: time the module proxy records for the tag (2021-12-07T20:52:56Z)
KUBERNETES_COMMIT = ("v1.23.0", "ab69524f795c42094a6630298ff53f3c3ebab7f4", 1638910376)
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
#: the image list of v1.32.4+k3s1 (public record; the tag's tree is not read here): name ->
#: (reference, the file that refers to it)
K3S_IMAGES = {
    "pause": ("rancher/mirrored-pause:3.6", "pkg/cli/cmds/const_linux.go"),
    "coredns": ("rancher/mirrored-coredns-coredns:1.12.1", "manifests/coredns.yaml"),
    "busybox": ("rancher/mirrored-library-busybox:1.36.1", "manifests/local-storage.yaml"),
    "traefik": ("rancher/mirrored-library-traefik:3.3.6", "manifests/traefik.yaml"),
    "metrics-server": (
        "rancher/mirrored-metrics-server:v0.7.2",
        "manifests/metrics-server/metrics-server-deployment.yaml",
    ),
    "klipper-helm": (
        "rancher/klipper-helm:v0.9.5-build20250306",
        "scripts/version.sh VERSION_HELM_JOB",
    ),
    "klipper-lb": ("rancher/klipper-lb:v0.4.13", "pkg/cloudprovider/servicelb.go"),
    "local-path-provisioner": (
        "rancher/local-path-provisioner:v0.0.31",
        "manifests/local-storage.yaml",
    ),
}


def _image_facts() -> dict[str, object]:
    from emtk3s.packages.k3s_addon_images import imagelist

    images: dict[str, object] = {}
    for name, (ref, at) in K3S_IMAGES.items():
        full = imagelist.normalize(ref, "K3S_IMAGES")
        b = imagelist.buildable_for(full)
        assert b is not None and b.name == name, ref
        registry, rest = full.split("/", 1)
        repository, tag = rest.rsplit(":", 1)
        images[name] = {
            "_reference": full,
            "_referenced_by": f"{rel.k3s.tag}:{at}",
            "registry": registry,
            "repository": repository,
            "tag": tag,
            "upstream": b.upstream,
            "upstream_tag": b.tag_prefix + tag,
        }
    return {
        "_source": "public record: scripts/airgap/image-list.txt of v1.32.4+k3s1 and the "
        "files that refer to each image (not read from the tag here)",
        "images": images,
    }


def _kubernetes_mirror() -> str:
    """kubernetes' files from its module zip as a one-commit repository tagged v1.23.0."""
    tag = KUBERNETES_COMMIT[0]
    repo = Path(tempfile.mkdtemp(prefix="emtk3s-k8s-")) / "repo"
    for f in KUBERNETES_FILES:
        (repo / f).parent.mkdir(parents=True, exist_ok=True)
        (repo / f).write_bytes((KUBERNETES / f).read_bytes())
    env = {
        "PATH": "/usr/bin:/bin",
        "GIT_AUTHOR_DATE": "1638910376 +0000",
        "GIT_COMMITTER_DATE": "1638910376 +0000",
        "HOME": str(repo),
    }
    for args in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.name=emtk3s", "-c", "user.email=emtk3s@localhost", "commit", "-qm", tag],
        ["tag", tag],
    ):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env)
    return str(repo)


if (KUBERNETES / "build/pause/Makefile").is_file():
    MIRRORS["kubernetes/kubernetes"] = _kubernetes_mirror()
comps = {"k3s": Component("k3s", "k3s-io/k3s", rel.k3s.tag, K3S_COMMIT, K3S_TIME, K3S_FACTS)}
comps["k3s-images"] = Component(
    "k3s-images", "k3s-io/k3s", rel.k3s.tag, K3S_COMMIT, K3S_TIME, _image_facts()
)
checkouts = {}
selected = CATALOG.select(list(rel.packages))
wanted = sorted({c for p in selected for c in (p.component, *p.components)})
for name in CATALOG.component_order(wanted):
    if name in ("k3s", "k3s-images"):
        continue
    cdef = CATALOG.components[name]
    tag = rel.overrides.get(name) or cdef.tag(pkgs.ResolveContext(rel, comps))
    co = fetch_tag(Path("/tmp/emtk3s-default-lock-cache"), "file://" + MIRRORS[cdef.repo], tag)
    facts = cdef.facts(co) if cdef.facts else {}
    checkouts[name] = co
    if cdef.derived is not None:  # buildroot: show-info on both trees, run contained
        facts.update(cdef.derived(co, checkouts, rel))
    commit, commit_time = co.info.commit, co.info.commit_time
    if cdef.repo == "kubernetes/kubernetes":  # the module zip's tree; the tag's real commit
        assert tag == KUBERNETES_COMMIT[0], tag
        commit, commit_time = KUBERNETES_COMMIT[1:]
    comps[name] = Component(name, cdef.repo, tag, commit, commit_time, facts)
packages = {}
for pdef in selected:
    comp = comps[pdef.component]
    packages[pdef.name] = PackageLock(
        pdef.name,
        component_version(comp.tag),
        pdef.component,
        tuple(_sources(pdef, comp, checkouts.get(pdef.component), None, comps, rel, checkouts)),
    )
# our OCI archive writer and ELF closure copier are generated sources made with no network
# (copies of ociarchive.py, elfclosure.py): pinned here as `emtk3s fetch` pins them
if "k3s-addon-images" in packages:
    import dataclasses
    import hashlib

    ours = {
        "k3s-addon-images-ociarchive.py": ("ociarchive.py", "generated-emtk3s-ociarchive"),
        "k3s-addon-images-elfclosure.py": ("elfclosure.py", "generated-emtk3s-elfclosure"),
    }
    pkg = packages["k3s-addon-images"]

    def _pin(s: lockmod.Source) -> lockmod.Source:
        if s.name not in ours:
            return s
        file, origin = ours[s.name]
        data = Path("emtk3s/packages/k3s_addon_images", file).read_bytes()
        return dataclasses.replace(
            s, sha256=hashlib.sha256(data).hexdigest(), size=len(data), origin=origin
        )

    packages[pkg.name] = dataclasses.replace(pkg, sources=tuple(_pin(s) for s in pkg.sources))
lock = Lock(input_digest(rel), rel.k3s.tag, comps, packages)
lockmod.write(Path("emtk3s.lock"), lock)
for n, c in comps.items():
    print(n, c.tag, c.commit, c.commit_time)
for p in packages.values():
    for s in p.sources:
        print(p.name, s.name, s.origin, s.sha256 or f"pending (sha512 {s.sha512})")
