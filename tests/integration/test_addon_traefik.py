"""k3s-addon-traefik through the pipeline on fixtures, then its image in a real containerd.

resolve reads the K3s tag's image list (traefik 3.3.6), takes traefik/traefik and
traefik-library-image at v3.3.6 (the fixture trees of tests/fixtures/addon_images.py: a
stand-in Go module with traefik's module path, version variables and go:embed'ed webui; the
library image's Dockerfile and entrypoint.sh stand-ins of tests/data/traefik/), records the image
config and the prebuilt download the Dockerfile makes, and pins entrypoint.sh as a git blob;
fetch makes the vendor tarball with emtk3s' Go vendor maker (from a fixture module proxy,
file://, offline); srpm packs it and rpmbuild (the host's go) builds traefik with upstream's ldflags and the placeholder
dashboard page. The image (our writer, the payload of that RPM, the host's static busybox for
the entrypoint's shell, the host's CA bundle and zoneinfo) imports into containerd under exactly
the listed name and `traefik version` runs through the entrypoint as root, upstream's user.
The real traefik is tests/integration/test_addon_traefik_real.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from emtk3s.packages.k3s_addon_images import BUSYBOX_APPLETS, dockerfile, images, ociarchive
from tests.conftest import ProjectDir, make_project
from tests.fixtures import addon_images as fx
from tests.fixtures import containerd as ctd
from tests.fixtures import gomodules

ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, "")
RPM_ARCH = os.uname().machine
REFERENCE = "docker.io/rancher/mirrored-library-traefik:3.3.6"
BUILD_DATE = "2025-04-18T09:10:04Z"  # the tag's commit time (fx.TRAEFIK_TIME)

pytestmark = pytest.mark.skipif(not ARCH, reason="no image architecture for this machine")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, upstream: object) -> Iterator[ProjectDir]:
    if shutil.which("go") is None:
        pytest.skip("go is needed to vendor and build the traefik payload")
    p = make_project(tmp_path_factory.mktemp("traefik") / "proj", upstream)  # type: ignore[arg-type]
    p.write_release(packages=["k3s-addon-traefik"], arches=[RPM_ARCH])
    proxy = gomodules.write_proxy(tmp_path_factory.mktemp("goproxy"), fx.TRAEFIK_MODULES)
    go_env = {"GOPROXY": proxy, "GOSUMDB": "off", "GONOSUMDB": "*", "GOFLAGS": ""}
    for stage in ("resolve", "fetch", "render", "srpm"):
        p.run(stage, timeout=1200, env=go_env)
    # rpmbuild of the SRPM emtk3s made, with the host's go on PATH (the rpmbuild backend's
    # sandbox has a fixed PATH; EMT's build root has golang in /usr/bin)
    (srpm,) = (p.root / "SRPMS").glob("k3s-addon-traefik-3.3.6-*.src.rpm")
    top = p.root / "rpmbuild"
    go_dir = str(Path(str(shutil.which("go"))).resolve().parent)
    proc = subprocess.run(
        ["rpmbuild", "--rebuild", "--nodeps", "--define", f"_topdir {top}", str(srpm)],
        capture_output=True, text=True, timeout=1200,
        env={**os.environ, "PATH": f"{go_dir}:{os.environ['PATH']}", "HOME": str(top),
             "GOCACHE": str(top / "gocache"), "SOURCE_DATE_EPOCH": str(fx.TRAEFIK_TIME)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (p.root / "RPMS" / RPM_ARCH).mkdir(parents=True, exist_ok=True)
    for rpm_file in (top / "RPMS").rglob("*.rpm"):
        shutil.copy(rpm_file, p.root / "RPMS" / RPM_ARCH)
    yield p


def test_the_lock_records_both_repositories_the_download_and_the_pinned_entrypoint(
    built: ProjectDir,
) -> None:
    lock = json.loads((built.root / "emtk3s.lock").read_text())
    traefik = lock["components"]["traefik"]
    assert traefik["tag"] == fx.TRAEFIK_TAG and traefik["commit_time"] == fx.TRAEFIK_TIME
    assert traefik["facts"] == {
        "codename": fx.TRAEFIK_CODENAME,
        "go_module": "github.com/traefik/traefik/v3",
    }
    lib = lock["components"]["traefik-library-image"]
    assert lib["tag"] == fx.TRAEFIK_TAG
    assert lib["facts"]["dockerfile"] == "v3.3/alpine/Dockerfile"
    upstream = dockerfile.from_facts(lib["facts"]["image"], ARCH)
    assert upstream["config"] == {"Entrypoint": ["/entrypoint.sh"], "Cmd": ["traefik"],
                                  "ExposedPorts": {"80/tcp": {}}}  # fmt: skip
    assert upstream["userland"] == ["ca-certificates", "tzdata"]
    assert [d["path"] for d in upstream["prebuilt"]] == ["/usr/local/bin/traefik"]
    sources = {s["name"]: s for s in lock["packages"]["k3s-addon-traefik"]["sources"]}
    entry = sources["k3s-addon-traefik-3.3.6-entrypoint.sh"]
    assert entry["origin"] == "git-blob"
    assert (
        entry["path"] == f"/traefik/traefik-library-image/{lib['commit']}/v3.3/alpine/entrypoint.sh"
    )
    assert (
        entry["sha256"] == __import__("hashlib").sha256(fx.TRAEFIK_ENTRYPOINT.encode()).hexdigest()
    )
    assert sources["traefik-vendor-3.3.6.tar.gz"]["origin"].startswith("generated by go")


@pytest.fixture(scope="module")
def payload(built: ProjectDir, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("traefik-root")
    (rpm_file,) = (built.root / "RPMS" / RPM_ARCH).glob("k3s-addon-traefik-3.3.6-*.rpm")
    cpio = subprocess.run(["rpm2cpio", str(rpm_file)], capture_output=True, check=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=cpio, cwd=root, check=True)
    return root / "usr/lib/k3s-addons/traefik"


def test_built_with_upstreams_stamps_and_without_the_dashboard(payload: Path) -> None:
    assert sorted(p.name for p in payload.iterdir()) == ["entrypoint.sh", "traefik"]
    assert (payload / "entrypoint.sh").read_text() == fx.TRAEFIK_ENTRYPOINT
    assert (payload / "entrypoint.sh").stat().st_mode & 0o777 == 0o755
    out = subprocess.run([str(payload / "traefik"), "version"], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    fields = dict(line.split(":", 1) for line in out.splitlines())
    assert fields["Version"].strip() == "3.3.6"  # goreleaser's {{.Version}}: the tag without v
    assert fields["Codename"].strip() == fx.TRAEFIK_CODENAME
    assert fields["Built"].strip() == BUILD_DATE
    assert fields["OS/Arch"].strip() == f"linux/{ARCH}"
    static = subprocess.run(["file", str(payload / "traefik")], capture_output=True, text=True)
    assert "statically linked" in static.stdout  # CGO_ENABLED=0
    # the embedded dashboard is our placeholder page (webui/static/index.html from %prep)
    assert b"dashboard is not built" in (payload / "traefik").read_bytes()


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ctd.Containerd]:
    if ctd.available():
        pytest.skip(ctd.available())
    c = ctd.Containerd(tmp_path_factory.mktemp("containerd")).start()
    yield c
    c.stop()


def _static_busybox() -> str:
    busybox = shutil.which("busybox")
    if (
        busybox is None
        or b"statically linked"
        not in subprocess.run(["file", "-L", busybox], capture_output=True).stdout
    ):
        pytest.skip("a static busybox is needed (apt-get install busybox-static)")
    return busybox


def test_the_image_imports_as_listed_and_runs_traefik_version_as_root(
    built: ProjectDir, payload: Path, containerd: ctd.Containerd, tmp_path: Path
) -> None:
    busybox = _static_busybox()
    ca = Path("/etc/ssl/certs/ca-certificates.crt")
    zoneinfo = Path("/usr/share/zoneinfo")
    if not ca.is_file() or not zoneinfo.is_dir():
        pytest.skip("the build host's ca-certificates and tzdata are needed")
    lock = json.loads((built.root / "emtk3s.lock").read_text())
    upstream = dockerfile.from_facts(
        lock["components"]["traefik-library-image"]["facts"]["image"], ARCH
    )
    files = images.traefik_payload(
        str(payload / "traefik"), str(payload / "entrypoint.sh"), busybox,
        list(BUSYBOX_APPLETS), str(ca), str(zoneinfo),
        [d["path"] for d in upstream["prebuilt"]],
    )  # fmt: skip
    desc = images.description(REFERENCE, ARCH, fx.TRAEFIK_TIME, upstream, files, str(ca))
    (tmp_path / "traefik.json").write_text(json.dumps(desc))
    archive = tmp_path / "traefik.tar"
    assert ociarchive.main([str(tmp_path / "traefik.json"), str(archive)]) == 0
    containerd.ctr("images", "import", str(archive))
    assert REFERENCE in containerd.images()
    # the image's CMD and ENTRYPOINT as upstream's: entrypoint.sh finds `version` is a traefik
    # subcommand and runs `traefik version` (the program where upstream unpacks its download)
    # (ctr's arguments replace ENTRYPOINT and CMD; Kubernetes' args replace CMD only)
    out = containerd.run(REFERENCE, "traefik-version", "/entrypoint.sh", "version").stdout
    assert "Version:      3.3.6" in out and f"Built:        {BUILD_DATE}" in out
    # a word that is not a subcommand runs as a command, in our busybox userland; as root (the
    # Dockerfile sets no USER); the time zone data and CA bundle where Alpine's packages put them
    probe = containerd.run(
        REFERENCE, "traefik-sh", "/entrypoint.sh", "sh", "-c",
        "id -u; command -v traefik; ls /usr/share/zoneinfo/Europe/Paris /etc/ssl/certs/ca-certificates.crt",
    )  # fmt: skip
    assert probe.stdout.split() == [
        "0",
        "/usr/local/bin/traefik",
        "/etc/ssl/certs/ca-certificates.crt",  # (ls sorts its arguments)
        "/usr/share/zoneinfo/Europe/Paris",
    ]
    assert "is not a Traefik command" in probe.stderr
    # the default CMD: traefik serves, as root, from our static binary
    containerd.run(REFERENCE, "traefik-up", detach=True)
    try:
        assert ctd.uid_gid(containerd.task_pid("traefik-up")) == (0, 0)
    finally:
        containerd.kill("traefik-up")
