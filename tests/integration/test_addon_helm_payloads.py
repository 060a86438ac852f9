"""The Go payload packages of klipper-helm's image (k3s-addon-helm, -helm-set-status,
-helm-mapkubeapis) built by rpmbuild from their golden specs, with stand-in Go trees of the real
module paths (tests/fixtures/addon_images.py) and stand-in vendor tarballs: helm is stamped as
its Makefile stamps a tag build (``version --short`` = tag+g<commit>, Kubernetes 1.31 from
client-go v0.31.3, a clean tree) and its %check passes; helm-set-status is a static cgo build
(its netcgo tag, ``-extldflags -static``: no ELF interpreter); mapkubeapis is stamped with the
empty version klipper-helm's Dockerfile gives it; each installs under /usr/lib/k3s-addons/<name>/
with the files the image takes (plugin.yaml, config/Map.yaml). The real trees are
tests/integration/test_addon_klipper_helm_real.py."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from emtk3s.packages.k3s_addon_images import elfclosure
from tests.fixtures import addon_images as fx

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
#: package -> (component, tree, version) as the golden lock names them
PAYLOADS = {
    "k3s-addon-helm": ("helm", fx.HELM_TREE, "3.16.4"),
    "k3s-addon-helm-set-status": ("helm-set-status", fx.SET_STATUS_TREE, "0.3.0"),
    "k3s-addon-helm-mapkubeapis": ("helm-mapkubeapis", fx.MAPKUBEAPIS_TREE, "0.5.2"),
}
GO_DIR = str(Path(shutil.which("go") or "go").resolve().parent)
GOLDEN_HELM_COMMIT = "7877b45b63f95635153b29a42c0c2f4273ec45ca"  # tests/golden/lock.json

pytestmark = pytest.mark.skipif(
    shutil.which("go") is None or shutil.which("rpmbuild") is None, reason="needs go and rpmbuild"
)


def _tarball(out: Path, top: str, files: dict[str, str]) -> None:
    tree = out.parent / f"tree-{out.name}"
    for rel, text in files.items():
        path = tree / top / rel if top else tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    with tarfile.open(out, "w:gz") as tf:
        tf.add(tree / top if top else tree / "vendor", arcname=top or "vendor")


@pytest.fixture(scope="module")
def rpms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    top = tmp_path_factory.mktemp("helm-payloads")
    sources = top / "SOURCES"
    sources.mkdir()
    out: dict[str, Path] = {}
    for pkg, (comp, tree, version) in PAYLOADS.items():
        _tarball(sources / f"{comp}-{version}.tar.gz", f"{comp}-{version}", tree)
        _tarball(sources / f"{comp}-vendor-{version}.tar.gz", "",
                 {"vendor/modules.txt": fx.VENDOR_MODULES[comp]})  # fmt: skip
        proc = subprocess.run(
            ["rpmbuild", "-bb", "--nodeps", "--define", f"_topdir {top}",
             str(GOLDEN / f"{pkg}.spec")],
            capture_output=True, text=True,
            env={"PATH": f"{GO_DIR}:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(top),
                 "GOCACHE": str(top / "gocache"), "GOPATH": str(top / "gopath")},
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        out[pkg] = next((top / "RPMS").rglob(f"{pkg}-{version}-*.rpm"))
    return out


def _unpack(rpm_file: Path, root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    cpio = subprocess.run(["rpm2cpio", str(rpm_file)], capture_output=True, check=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=cpio, cwd=root, check=True)
    return root / "usr/lib/k3s-addons"


def test_helm_is_stamped_as_helms_makefile_stamps_a_tag_build(rpms: dict[str, Path], tmp_path: Path) -> None:  # fmt: skip
    addons = _unpack(rpms["k3s-addon-helm"], tmp_path)
    assert sorted(p.name for p in addons.iterdir()) == ["helm"]
    helm = addons / "helm" / "helm"
    short = subprocess.run([str(helm), "version", "--short"], capture_output=True, text=True)
    assert short.stdout == f"v3.16.4+g{GOLDEN_HELM_COMMIT[:7]}\n"
    k8s = subprocess.run([str(helm), "k8s"], capture_output=True, text=True)
    assert k8s.stdout == "1.31 1.31 true\n"  # client-go v0.31.3 -> Kubernetes 1.31, clean tree
    assert elfclosure.elf_deps(str(helm)) == ("", [])  # CGO_ENABLED=0: static


def test_set_status_is_a_static_cgo_build_with_its_plugin_yaml(rpms: dict[str, Path], tmp_path: Path) -> None:  # fmt: skip
    addons = _unpack(rpms["k3s-addon-helm-set-status"], tmp_path)
    d = addons / "helm-set-status"
    assert sorted(p.name for p in d.iterdir()) == ["helm-set-status", "plugin.yaml"]
    run = subprocess.run([str(d / "helm-set-status")], capture_output=True, text=True)
    assert run.stdout == "set-status 0.1.0 true\n"  # -X main.version from plugin.yaml
    assert elfclosure.elf_deps(str(d / "helm-set-status")) == ("", [])  # -extldflags -static
    assert 'version: "0.1.0"' in (d / "plugin.yaml").read_text()


def test_mapkubeapis_is_stamped_empty_with_its_plugin_files(rpms: dict[str, Path], tmp_path: Path) -> None:  # fmt: skip
    addons = _unpack(rpms["k3s-addon-helm-mapkubeapis"], tmp_path)
    d = addons / "helm-mapkubeapis"
    files = sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())
    assert files == ["bin/mapkubeapis", "config/Map.yaml", "plugin.yaml"]
    run = subprocess.run([str(d / "bin" / "mapkubeapis")], capture_output=True, text=True)
    assert run.stdout == 'mapkubeapis ""\n'  # VERSION unset in klipper-helm's Dockerfile
