"""k3s-addon-images for both architectures, from the spec alone (rpmspec -P --target): each
arch's RPM writes that arch's archives (amd64 on x86_64, arm64 on aarch64) from that arch's
image descriptions (local-path-provisioner's ``ARCH`` is upstream's per-arch value), and %check
compares each with that arch's digest pinned in the lock, or says it is unpinned. The archives
themselves are built and run on x86_64 only here (test_addon_images_package.py); this is what
exercises the aarch64 path."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from emtk3s.packages.k3s_addon_images import PAYLOADS

REPO = Path(__file__).resolve().parents[2]
MACROS = str(REPO / "emtk3s/data/emt.macros")
#: the golden spec: the golden lock pins pause's amd64 manifest digest only
SPEC = REPO / "tests/golden/k3s-addon-images.spec"
PAUSE = "docker.io/rancher/mirrored-pause:3.6"
#: where %build starts in rpmspec -P's output (rpm 4.18 prints no %build line there)
BUILD = "# one deterministic archive per image"

pytestmark = pytest.mark.skipif(shutil.which("rpmspec") is None, reason="rpmspec is needed")


def _parsed(arch: str) -> str:
    return subprocess.run(
        ["rpmspec", "-P", "--target", arch, "--load", MACROS, str(SPEC)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _descriptions(parsed: str) -> dict[str, dict[str, object]]:
    """name -> the writer description %prep writes for this arch."""
    out = {}
    prep = parsed[parsed.index("%prep") : parsed.index(BUILD)]
    for chunk in prep.split("cat > ")[1:]:
        name, rest = chunk.split(" <<'END_OF_DESCRIPTION'\n", 1)
        out[name.removesuffix(".json")] = json.loads(rest.split("\nEND_OF_DESCRIPTION", 1)[0])
    return out


@pytest.mark.parametrize(("arch", "goarch", "other"), [("x86_64", "amd64", "arm64"), ("aarch64", "arm64", "amd64")])  # fmt: skip
def test_each_arch_writes_and_checks_its_own_archives(arch: str, goarch: str, other: str) -> None:
    lock = json.loads((REPO / "tests/golden/lock.json").read_text())
    pins = lock["packages"]["k3s-addon-images"]["image_digests"]
    parsed = _parsed(arch)
    descs = _descriptions(parsed)
    listed = lock["components"]["k3s-images"]["facts"]["images"]
    assert set(descs) == {n for n in listed if n in PAYLOADS} and "pause" in descs
    for name, desc in descs.items():
        assert desc["architecture"] == goarch, name
    lpp = descs["local-path-provisioner"]["config"]
    assert f"ARCH={goarch}" in lpp["Env"]  # type: ignore[index,operator]
    build = parsed[parsed.index(BUILD) : parsed.index("%check")]
    assert f"archives/mirrored-pause_3.6-{goarch}.tar" in build
    assert f"-{other}.tar" not in build
    check = parsed[parsed.index("%check") : parsed.index("%install")]
    pin = pins[PAUSE].get(goarch)
    if pin:  # the golden lock pins amd64's: compared, failing the build on another digest
        assert f'test "$(cat pause.digest)" = "{pin}"' in check
        assert (
            f"{PAUSE} ({goarch}): manifest $(cat pause.digest), but emtk3s.lock pins {pin}" in check
        )
    else:  # arm64's is not pinned: said, not passed silently
        assert f"{PAUSE} ({goarch}): manifest $(cat pause.digest) is UNPINNED" in check
    assert f"({other})" not in check
    assert "ExclusiveArch:  x86_64 aarch64" in parsed
