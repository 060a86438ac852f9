"""A real from-source CoreDNS image: coredns/coredns at the tag K3s v1.32.4+k3s1's image list
names (1.12.1 -> v1.12.1), from a snapshot of the upstream repository, vendored by emtk3s' Go
vendor maker through the Go module proxy, built as upstream's Makefile builds it
(CGO_ENABLED=0, ``-ldflags "-s -w -X .../coremain.GitCommit=..."``), written as an OCI archive
with the config read from the tag's own Dockerfile (USER nonroot, ENTRYPOINT /coredns, the
``cap_net_bind_service=+ep`` it setcaps) and run in a private containerd, where it answers a
DNS query on :53 as uid 65532.

Skips without the snapshot (/work/.mirror/coredns+coredns), Go, the module proxy or containerd.
Slow (a real Go build of CoreDNS): not one of the seconds-long containerd tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from emtk3s.packages.k3s_addon_images import dockerfile, images, ociarchive
from tests.fixtures import containerd as ctd
from tests.fixtures import real_go
from tests.fixtures.addon_images import IMAGE_LIST_V1_32_4
from tests.integration.test_addon_images_containerd import ARCH, _query_in_netns

MIRROR = Path(os.environ.get("EMTK3S_COREDNS_MIRROR", "/work/.mirror/coredns+coredns/repo"))
REFERENCE = next(r for r in IMAGE_LIST_V1_32_4 if "/mirrored-coredns-coredns:" in r)
TAG = "v" + REFERENCE.rsplit(":", 1)[1]
pytestmark = pytest.mark.skipif(
    bool(real_go.why_not(MIRROR)), reason=real_go.why_not(MIRROR) or "ok"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    work = tmp_path_factory.mktemp("coredns")
    # the same maker `emtk3s vendor` and fetch use for Go packages (module downloads in the
    # generator sandbox); a persistent module cache keeps reruns short
    v = real_go.vendored_tag(MIRROR, TAG, "coredns", work)
    commit, epoch, origin = v.commit, v.epoch, v.origin
    real_go.go_build(
        v, f"-s -w -X github.com/coredns/coredns/coremain.GitCommit={commit[:9]}", work / "coredns"
    )
    upstream = dockerfile.parse(
        real_go.git(MIRROR, "show", f"{commit}:Dockerfile"), f"{TAG}:Dockerfile"
    )
    ca = Path("/etc/ssl/certs/ca-certificates.crt")
    if not ca.is_file():
        pytest.skip("no CA bundle on this host to put in the image")
    desc = images.description(
        REFERENCE, ARCH, epoch, upstream, images.coredns_payload(str(work / "coredns"), str(ca))
    )
    archive_path = work / f"mirrored-coredns-coredns-{TAG[1:]}-{ARCH}.tar"
    digest = ociarchive.write_archive(ociarchive.image_from(desc), str(archive_path))
    yield {"archive": archive_path, "digest": digest, "origin": origin, "upstream": upstream,
           "binary": work / "coredns", "commit": commit}  # fmt: skip


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ctd.Containerd]:
    c = ctd.Containerd(tmp_path_factory.mktemp("containerd")).start()
    yield c
    c.stop()


def test_real_coredns_from_source_answers_dns_as_non_root(
    built: dict[str, object], containerd: ctd.Containerd, tmp_path: Path
) -> None:
    upstream = built["upstream"]
    assert isinstance(upstream, dict)
    assert upstream["config"]["User"] == "nonroot:nonroot"
    assert upstream["capabilities"] == {
        "/coredns": {"caps": ["cap_net_bind_service"], "effective": True}
    }
    containerd.ctr("images", "import", str(built["archive"]))
    assert REFERENCE in containerd.images()
    version = containerd.run(REFERENCE, "coredns-version", "/coredns", "-version").stdout
    assert f"CoreDNS-{TAG[1:]}" in version
    # a Corefile where K3s' coredns manifest mounts it; the hosts plugin answers the A query
    conf = tmp_path / "coredns"
    conf.mkdir()
    (conf / "Corefile").write_text(
        ".:53 {\n    hosts {\n        10.0.0.53 kubernetes.default.svc.cluster.local\n    }\n}\n"
    )
    conf.chmod(0o755)  # read by uid 65532
    containerd.run(REFERENCE, "coredns-real", "/coredns", "-conf", "/etc/coredns/Corefile",
                   detach=True, mounts=((conf, "/etc/coredns"),))  # fmt: skip
    try:
        pid = containerd.task_pid("coredns-real")
        assert ctd.uid_gid(pid) == (65532, 65532)
        assert _query_in_netns(pid) == "10.0.0.53"
    finally:
        containerd.kill("coredns-real")
    size = Path(str(built["archive"])).stat().st_size
    print(f"\nreal coredns {TAG}: archive {size} bytes, manifest {built['digest']}, "
          f"vendored {built['origin']}")  # fmt: skip
