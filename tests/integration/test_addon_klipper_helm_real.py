"""A real from-source klipper-helm image: Helm at the release klipper-helm
v0.9.5-build20250306's Dockerfile downloads prebuilt (v3.16.4), and its two plugins at the tags
it names (k3s-io/helm-set-status v0.3.0, helm/helm-mapkubeapis v0.5.2), each from a snapshot of
its upstream repository, vendored by emtk3s' Go vendor maker through the Go module proxy and
built with the flags of its package's spec (helm's Makefile ldflags; set-status's static cgo
build; mapkubeapis' CGO_ENABLED=0 build); written with the writer and the description
k3s-addon-images' %build uses, bash and jq from this host. In a private containerd, as uid 1000:
``helm version`` says v3.16.4 at its commit, helm lists both plugins from $HOME and runs them,
and the entry with no chart ends as upstream's does with the real helm (its usage, exit 0),
upstream's own entry too where the k3s-io/klipper-helm snapshot is present.

Skips without the snapshots (/work/.mirror/helm+helm, k3s-io+helm-set-status,
helm+helm-mapkubeapis), Go, the module proxy or containerd. Slow (real Go builds)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from emtk3s.packages import k3s_addon_images as addon
from emtk3s.packages.k3s_addon_images import elfclosure
from tests.fixtures import containerd as ctd
from tests.fixtures import klipper_helm_image as kh
from tests.fixtures import real_go
from tests.integration.test_addon_images_containerd import ARCH
from tests.integration.test_addon_klipper_helm_containerd import CA, _entry_without_chart, run

MIRRORS = Path("/work/.mirror")
UPSTREAM_ENTRY = MIRRORS / "k3s-io+klipper-helm" / "repo"
HELM_PKG = "helm.sh/helm/v3"
#: (name, mirror, tag, package, CGO_ENABLED, tags, ldflags) as the k3s-addon-* specs build them
#: (helm's k8s version: client-go v0.31.3 in its go.mod -> 1.31)
BUILDS = (
    ("helm", "helm+helm", "v3.16.4", "./cmd/helm", "0", "",
     f"-w -s -X {HELM_PKG}/internal/version.version=v3.16.4 -X {HELM_PKG}/internal/version.metadata="
     f" -X {HELM_PKG}/internal/version.gitCommit={{commit}} -X {HELM_PKG}/internal/version.gitTreeState=clean"
     f" -X {HELM_PKG}/pkg/lint/rules.k8sVersionMajor=1 -X {HELM_PKG}/pkg/lint/rules.k8sVersionMinor=31"
     f" -X {HELM_PKG}/pkg/chartutil.k8sVersionMajor=1 -X {HELM_PKG}/pkg/chartutil.k8sVersionMinor=31"),
    ("helm-set-status", "k3s-io+helm-set-status", "v0.3.0", "./cmd/helm-set-status", "1",
     "static_build netcgo osusergo",
     "-linkmode external -X main.version=0.1.0 -extldflags -static -w -s"),
    ("helm-mapkubeapis", "helm+helm-mapkubeapis", "v0.5.2", "./cmd/mapkubeapis", "0", "",
     "-X main.version="),
)  # fmt: skip


def _why_not() -> str:
    return real_go.why_not(*(MIRRORS / mirror / "repo" for _n, mirror, *_rest in BUILDS))


pytestmark = pytest.mark.skipif(bool(_why_not()), reason=_why_not() or "ok")


def _build(work: Path, name: str, mirror: str, tag: str, pkg: str, cgo: str, tags: str,
           ldflags: str) -> real_go.Vendored:  # fmt: skip
    """The tag's tree (git archive), vendored by emtk3s' maker, built in the sandbox."""
    v = real_go.vendored_tag(MIRRORS / mirror / "repo", tag, name, work / name,
                             skip_outside_links=True)  # fmt: skip
    out = v.top / "bin" / pkg.rsplit("/", 1)[1]
    real_go.go_build(v, ldflags.format(commit=v.commit), out, pkg, cgo=cgo, tags=tags)
    return v


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    busybox = kh.busybox_static()
    if busybox is None or not CA.is_file():
        pytest.skip("a static busybox and a CA bundle are needed (apt-get install busybox-static)")
    work = tmp_path_factory.mktemp("klipper-helm-real")
    trees = {b[0]: _build(work, *b) for b in BUILDS}
    base = work / "image"
    # as the payload RPMs install them (the specs' %install)
    helm = base / addon.PAYLOAD_FILES["helm"]
    helm.parent.mkdir(parents=True)
    shutil.copy(trees["helm"].top / "bin" / "helm", helm)
    status = base / addon.PAYLOAD_FILES["helm-set-status"]
    status.mkdir(parents=True)
    shutil.copy(trees["helm-set-status"].top / "bin" / "helm-set-status", status)
    # -linkmode external: static, so it needs no libc in the image (no ELF interpreter)
    assert elfclosure.elf_deps(str(status / "helm-set-status")) == ("", [])
    shutil.copy(trees["helm-set-status"].top / "plugin.yaml", status)
    mapkube = base / addon.PAYLOAD_FILES["helm-mapkubeapis"]
    (mapkube / "bin").mkdir(parents=True)
    (mapkube / "config").mkdir()
    mtop = trees["helm-mapkubeapis"].top
    shutil.copy(mtop / "bin" / "mapkubeapis", mapkube / "bin")
    shutil.copy(mtop / "plugin.yaml", mapkube)
    shutil.copy(mtop / "config" / "Map.yaml", mapkube / "config")
    archive, digest = kh.write(base, ARCH, busybox, CA)
    yield {"archive": archive, "digest": digest, "origins": {n: t.origin for n, t in trees.items()},
           "helm_commit": trees["helm"].commit}  # fmt: skip


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ctd.Containerd]:
    c = ctd.Containerd(tmp_path_factory.mktemp("containerd")).start()
    yield c
    c.stop()


def test_real_helm_and_plugins_run_in_the_image_as_upstreams_user(
    built: dict[str, object], containerd: ctd.Containerd, tmp_path: Path
) -> None:
    containerd.ctr("images", "import", str(built["archive"]))
    assert kh.REFERENCE in containerd.images()
    script = ("id -u; helm version --short; helm plugin list; "
              "helm mapkubeapis --help | head -1; helm set-status --help | head -1")  # fmt: skip
    proc = run(containerd, "kh-real", "/bin/bash", "-c", script)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "1000"
    assert lines[1] == f"v3.16.4+g{str(built['helm_commit'])[:7]}"
    plugins = {ln.split()[0]: ln.split()[1] for ln in lines[3:] if ln.split()[:1] in (["mapkubeapis"], ["set-status"])}  # fmt: skip
    assert plugins == {"mapkubeapis": "0.5.2", "set-status": "0.1.0"}
    assert "Map release deprecated Kubernetes APIs in-place" in proc.stdout
    # the entry with the real helm and no chart: helm's usage for the empty chart, exit 0
    _entry_without_chart(containerd, tmp_path, "kh-real-entry")
    if UPSTREAM_ENTRY.is_dir():  # and upstream's own entry (the snapshot's, never committed)
        real = tmp_path / "entry"
        real.write_bytes(subprocess.run(
            ["git", "--git-dir", str(UPSTREAM_ENTRY), "show", "v0.9.5-build20250306:entry"],
            capture_output=True, check=True).stdout)  # fmt: skip
        real.chmod(0o755)
        _entry_without_chart(containerd, tmp_path, "kh-real-upstream",
                             ((real, "/usr/bin/entry", "ro"),))  # fmt: skip
    size = Path(str(built["archive"])).stat().st_size
    print(f"\nreal klipper-helm: archive {size} bytes, manifest {built['digest']}, "
          f"vendored {built['origins']}")  # fmt: skip
