"""A real from-source traefik image: traefik/traefik at the tag K3s v1.32.4+k3s1's image list
names (3.3.6 -> v3.3.6), from a snapshot of the upstream repository, vendored by emtk3s' Go
vendor maker through the Go module proxy, built as k3s-addon-traefik's spec builds it (the
placeholder dashboard page in webui/static, ``CGO_ENABLED=0 go build -trimpath -ldflags "-s -w
-X .../pkg/version.{Version,Codename,BuildDate}=..." ./cmd/traefik``), written as an OCI archive
with the config read from traefik-library-image's v3.3/alpine/Dockerfile at its v3.3.6 tag and
that tag's entrypoint.sh, and run in a private containerd: `traefik version` through the
entrypoint, and the proxy serving its API and our dashboard page as root.

Skips without the snapshots (/work/.mirror/traefik+traefik, traefik+traefik-library-image), Go,
the module proxy or containerd. Slow (a real Go build of traefik)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emtk3s.packages.k3s_addon_images import BUSYBOX_APPLETS, dockerfile, images, ociarchive
from tests.fixtures import containerd as ctd
from tests.fixtures import real_go
from tests.fixtures.addon_images import IMAGE_LIST_V1_32_4

MIRROR = Path(os.environ.get("EMTK3S_TRAEFIK_MIRROR", "/work/.mirror/traefik+traefik/repo"))
LIBRARY = Path(
    os.environ.get(
        "EMTK3S_TRAEFIK_LIBRARY_MIRROR", "/work/.mirror/traefik+traefik-library-image/repo"
    )
)
REFERENCE = next(r for r in IMAGE_LIST_V1_32_4 if "/mirrored-library-traefik:" in r)
TAG = "v" + REFERENCE.rsplit(":", 1)[1]
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, "")
PAGE = "The Traefik dashboard is not built in this package"


def _why_not() -> str:
    if not ARCH:
        return "no image architecture for this machine"
    busybox = shutil.which("busybox")
    if (
        busybox is None
        or b"statically linked"
        not in subprocess.run(["file", "-L", busybox], capture_output=True).stdout
    ):
        return "a static busybox is needed (apt-get install busybox-static)"
    return real_go.why_not(MIRROR, LIBRARY)


pytestmark = pytest.mark.skipif(bool(_why_not()), reason=_why_not() or "ok")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    work = tmp_path_factory.mktemp("traefik")
    v = real_go.vendored_tag(MIRROR, TAG, "traefik", work)
    commit, epoch, origin, vendor, top = v.commit, v.epoch, v.origin, v.vendor, v.top
    # %prep: the placeholder page where the webui's Node build would put the dashboard
    (top / "webui/static").mkdir(parents=True, exist_ok=True)
    (top / "webui/static/index.html").write_text(
        f"<p>{PAGE} (its web assets need a Node build).</p>\n"
    )
    codename = "saintnectaire"  # CODENAME of the tag's .github/workflows/release.yaml
    assert f"CODENAME: {codename}" in real_go.git(
        MIRROR, "show", f"{commit}:.github/workflows/release.yaml"
    )
    date = subprocess.run(["date", "-u", "-d", f"@{epoch}", "+%Y-%m-%dT%H:%M:%SZ"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    x = "github.com/traefik/traefik/v3/pkg/version"
    ldflags = f"-s -w -X {x}.Version={TAG[1:]} -X {x}.Codename={codename} -X {x}.BuildDate={date}"
    real_go.go_build(v, ldflags, work / "traefik", "./cmd/traefik")
    lib_dir = f"v{TAG[1:].rsplit('.', 1)[0]}/alpine"
    upstream = dockerfile.parse(real_go.git(LIBRARY, "show", f"{TAG}:{lib_dir}/Dockerfile"),
                                f"{TAG}:{lib_dir}/Dockerfile", ARCH)  # fmt: skip
    entry = work / "entrypoint.sh"
    entry.write_text(real_go.git(LIBRARY, "show", f"{TAG}:{lib_dir}/entrypoint.sh"))
    ca, zoneinfo = Path("/etc/ssl/certs/ca-certificates.crt"), Path("/usr/share/zoneinfo")
    if not ca.is_file() or not zoneinfo.is_dir():
        pytest.skip("the build host's ca-certificates and tzdata are needed")
    files = images.traefik_payload(
        str(work / "traefik"), str(entry), str(shutil.which("busybox")), list(BUSYBOX_APPLETS),
        str(ca), str(zoneinfo), [d["path"] for d in upstream["prebuilt"]],
    )  # fmt: skip
    desc = images.description(REFERENCE, ARCH, epoch, upstream, files, str(ca))
    archive_path = work / f"mirrored-library-traefik-{TAG[1:]}-{ARCH}.tar"
    digest = ociarchive.write_archive(ociarchive.image_from(desc), str(archive_path))
    yield {"archive": archive_path, "digest": digest, "origin": origin, "upstream": upstream,
           "binary": work / "traefik", "date": date, "vendor": vendor}  # fmt: skip


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ctd.Containerd]:
    c = ctd.Containerd(tmp_path_factory.mktemp("containerd")).start()
    yield c
    c.stop()


_GET = (
    "import sys, time, urllib.request\n"
    "for _ in range(100):\n"
    "    try:\n"
    "        print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()); break\n"
    "    except OSError:\n"
    "        time.sleep(0.1)\n"
)


def test_real_traefik_from_source_runs_through_upstreams_entrypoint(
    built: dict[str, object], containerd: ctd.Containerd
) -> None:
    upstream = built["upstream"]
    assert isinstance(upstream, dict)
    assert upstream["config"]["Entrypoint"] == ["/entrypoint.sh"]
    containerd.ctr("images", "import", str(built["archive"]))
    assert REFERENCE in containerd.images()
    out = containerd.run(REFERENCE, "traefik-version", "/entrypoint.sh", "version").stdout
    assert f"Version:      {TAG[1:]}" in out and "Codename:     saintnectaire" in out
    assert f"Built:        {built['date']}" in out
    # the image's CMD through its entrypoint, with the API on :8080: our dashboard page
    containerd.run(REFERENCE, "traefik-up", "/entrypoint.sh", "traefik", "--api.insecure=true",
                   detach=True)  # fmt: skip
    try:
        pid = containerd.task_pid("traefik-up")
        assert ctd.uid_gid(pid) == (0, 0)  # the Dockerfile sets no USER
        page = subprocess.run(
            ["nsenter", "-t", str(pid), "-n", sys.executable, "-c", _GET,
             "http://127.0.0.1:8080/dashboard/"],
            capture_output=True, text=True, timeout=60,
        ).stdout  # fmt: skip
        assert PAGE in page
        version = subprocess.run(
            ["nsenter", "-t", str(pid), "-n", sys.executable, "-c", _GET,
             "http://127.0.0.1:8080/api/version"],
            capture_output=True, text=True, timeout=60,
        ).stdout  # fmt: skip
        assert f'"Version":"{TAG[1:]}"' in version
    finally:
        containerd.kill("traefik-up")
    size = Path(str(built["archive"])).stat().st_size
    binary = Path(str(built["binary"])).stat().st_size
    vendor = Path(str(built["vendor"])).stat().st_size
    print(f"\nreal traefik {TAG}: binary {binary} bytes, archive {size} bytes, manifest "
          f"{built['digest']}, vendor tarball {vendor} bytes, {built['origin']}")  # fmt: skip
