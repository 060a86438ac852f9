"""k3s-addon-traefik's readers on the tag trees of every K3s era the fixtures stand for (traefik
2.9.4 to 3.6.4): the Go module path and release codename of traefik/traefik, the library
image's Dockerfile and entrypoint.sh wherever that tag keeps them; the writer's ``tree`` item
(the build host's zoneinfo); and the image assembly refusing a prebuilt download it does not
replace."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from emtk3s import catalog
from emtk3s.infra.errors import InputError
from emtk3s.model.lock import Lock
from emtk3s.packages import k3s_addon_images
from emtk3s.packages import k3s_addon_traefik as traefik
from emtk3s.packages.k3s_addon_images import ociarchive
from tests.fixtures import addon_images as fx
from tests.unit.test_addon_imagelist import TreeCheckout

DATA = Path(__file__).resolve().parent.parent / "data" / "k3s"
GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def _era_traefik_tags() -> list[str]:
    tags = set()
    for era in sorted(DATA.iterdir()):
        listing = era / "scripts/airgap/image-list.txt"
        if listing.is_file():
            for ref in listing.read_text().split():
                if "/mirrored-library-traefik:" in ref:
                    tags.add("v" + ref.rsplit(":", 1)[1])
    return sorted(tags)


def test_the_eras_name_traefik_tags() -> None:
    assert {"v2.9.4", "v3.3.6", "v3.6.4"} <= set(_era_traefik_tags())


def test_module_path_and_codename_of_v3_and_v2_trees() -> None:
    v3 = TreeCheckout({k: v for k, v in fx.TRAEFIK_GO.items()}, "v3.3.6")
    assert traefik._build_facts(v3) == {  # type: ignore[arg-type]
        "go_module": "github.com/traefik/traefik/v3",
        "codename": fx.TRAEFIK_CODENAME,
    }
    # v2 tags: a v2 module; the codename an environment variable of the Semaphore pipeline
    v2 = TreeCheckout(
        {
            "go.mod": "module github.com/traefik/traefik/v2\n\ngo 1.19\n",
            ".semaphore/semaphore.yml": "    env_vars:\n      - name: CODENAME\n        value: \"banon\"\n",
        },
        "v2.9.4",
    )  # fmt: skip
    assert traefik._build_facts(v2) == {  # type: ignore[arg-type]
        "go_module": "github.com/traefik/traefik/v2",
        "codename": "banon",
    }


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"go.mod": "module example.com/other\n"}, "go.mod names no traefik module"),
        ({"go.mod": "module github.com/traefik/traefik/v3\n"}, "no CODENAME in"),
        ({"go.mod": "module github.com/traefik/traefik/v3\n",
          ".github/workflows/release.yaml": "env:\n  CODENAME: $(rm -rf /)\n"}, "no CODENAME in"),
    ],
)  # fmt: skip
def test_what_it_cannot_read_is_an_error_naming_the_tag(
    files: dict[str, str], message: str
) -> None:
    with pytest.raises(InputError, match="traefik/traefik v3.3.6: " + message.replace("(", r"\(")):
        traefik._build_facts(TreeCheckout(files, "v3.3.6"))  # type: ignore[arg-type]


@pytest.mark.parametrize("tag", _era_traefik_tags())
def test_the_library_image_of_every_era(tag: str) -> None:
    """From 2.11 on the library image keeps one directory per line (v2.11/alpine/...); older
    tags only alpine/. Either way the Dockerfile's config and the entrypoint are read."""
    line = "v" + ".".join(tag[1:].split(".")[:2]) + "/alpine"
    layout = line if tuple(int(x) for x in tag[1:].split(".")[:2]) >= (2, 11) else "alpine"
    files = {
        f"{layout}/Dockerfile": fx.TRAEFIK_DOCKERFILE.replace("v3.3.6", tag),
        f"{layout}/entrypoint.sh": fx.TRAEFIK_ENTRYPOINT,
    }
    facts = traefik._library_facts(TreeCheckout(files, tag))  # type: ignore[arg-type]
    assert facts["dockerfile"] == f"{layout}/Dockerfile"
    assert facts["entrypoint"] == f"{layout}/entrypoint.sh"
    assert facts["entrypoint_sha256"] == hashlib.sha256(fx.TRAEFIK_ENTRYPOINT.encode()).hexdigest()
    assert json.loads(facts["image"]["_prebuilt"])[0]["url"].endswith(
        f"/{tag}/traefik_{tag}_linux_<arch>.tar.gz"
    )
    with pytest.raises(InputError, match=f"traefik-library-image {tag}: no alpine/Dockerfile"):
        traefik._library_facts(TreeCheckout({f"{layout}/Dockerfile": "FROM alpine\n"}, tag))  # type: ignore[arg-type]


def _golden_lock() -> Lock:
    return Lock.from_json(
        (GOLDEN / "lock.json").read_text(), catalog.load().mirrors, "tests/golden/lock.json"
    )


def test_the_entrypoint_is_listed_at_the_library_commit_pinned_by_its_blob() -> None:
    lock = _golden_lock()
    (src,) = traefik._entrypoint(dict(lock.components))
    lib = lock.components["traefik-library-image"]
    assert src.name == "k3s-addon-traefik-3.3.6-entrypoint.sh"
    assert src.path == f"/traefik/traefik-library-image/{lib.commit}/v3.3/alpine/entrypoint.sh"
    assert (src.sha256, src.origin) == (lib.facts["entrypoint_sha256"], "git-blob")


def test_a_prebuilt_download_the_image_does_not_replace_is_an_error_naming_it() -> None:
    lock = _golden_lock()
    comps = dict(lock.components)
    assert any(i["name"] == "traefik" for i in k3s_addon_images.context(comps)["addon_images"])
    lb = comps["klipper-lb"]
    image = {**lb.facts["image"], "_prebuilt": json.dumps([{"path": "/usr/bin/x", "url": "u"}])}
    comps["klipper-lb"] = dataclasses.replace(lb, facts={**lb.facts, "image": image})
    with pytest.raises(InputError, match=r"downloads a prebuilt /usr/bin/x \(u\)"):
        k3s_addon_images.context(comps)


def test_a_tree_item_copies_a_directory_deterministically(tmp_path: Path) -> None:
    tree = tmp_path / "zoneinfo"
    (tree / "Europe").mkdir(parents=True)
    (tree / "Europe/Paris").write_bytes(b"TZif-paris")
    (tree / "Europe/Paris").chmod(0o600)
    (tree / "tzselect").write_text("#!/bin/sh\n")
    (tree / "tzselect").chmod(0o700)
    os.symlink("Europe/Paris", tree / "localtime")
    os.symlink("Europe", tree / "Europa")  # a link to a directory is a link, not walked
    item = {"path": "usr/share/zoneinfo", "tree": "zoneinfo"}
    entries = ociarchive.tree_entries(item, str(tmp_path))
    got = {e.path: (e.kind, oct(e.mode), e.uid, e.link or e.data) for e in entries}
    assert got == {
        "usr/share/zoneinfo": ("dir", "0o755", 0, b""),
        "usr/share/zoneinfo/Europe": ("dir", "0o755", 0, b""),
        "usr/share/zoneinfo/Europe/Paris": ("file", "0o644", 0, b"TZif-paris"),
        "usr/share/zoneinfo/tzselect": ("file", "0o755", 0, b"#!/bin/sh\n"),
        "usr/share/zoneinfo/localtime": ("symlink", "0o777", 0, "Europe/Paris"),
        "usr/share/zoneinfo/Europa": ("symlink", "0o777", 0, "Europe"),
    }
    desc = {"reference": "docker.io/rancher/x:1", "architecture": "amd64", "created": 1,
            "config": {}, "files": [item]}  # fmt: skip
    first = ociarchive.layer_tar(ociarchive.image_from(desc, str(tmp_path)).entries, 1)
    os.utime(tree / "Europe/Paris", (5, 5))  # the host's times do not reach the layer
    assert ociarchive.layer_tar(ociarchive.image_from(desc, str(tmp_path)).entries, 1) == first
    with pytest.raises(ociarchive.ImageError, match="is not a directory"):
        ociarchive.tree_entries({"path": "x", "tree": "zoneinfo/tzselect"}, str(tmp_path))


LIBRARY_MIRROR = Path("/work/.mirror/traefik+traefik-library-image/repo")
TRAEFIK_MIRROR = Path("/work/.mirror/traefik+traefik/repo")


class _GitTag:
    """A tag of a snapshot (bare git directory), read as TagCheckout reads it."""

    def __init__(self, mirror: Path, tag: str) -> None:
        self.mirror, self.info = mirror, TreeCheckout({}, tag).info

    def _show(self, path: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["git", "--git-dir", str(self.mirror), "show",
                               f"{self.info.tag}:{path}"], capture_output=True)  # fmt: skip

    def read(self, path: str) -> bytes:
        proc = self._show(path)
        assert proc.returncode == 0, path
        return proc.stdout

    def exists(self, path: str) -> bool:
        return self._show(path).returncode == 0


@pytest.mark.skipif(not LIBRARY_MIRROR.is_dir() or not TRAEFIK_MIRROR.is_dir(),
                    reason="no traefik/traefik and traefik-library-image snapshots here")  # fmt: skip
@pytest.mark.parametrize("tag", _era_traefik_tags())
def test_the_real_upstream_trees_of_every_era(tag: str) -> None:
    lib = traefik._library_facts(_GitTag(LIBRARY_MIRROR, tag))  # type: ignore[arg-type]
    config = json.loads(lib["image"]["_config"])
    assert config == {"Cmd": ["traefik"], "Entrypoint": ["/entrypoint.sh"],
                      "ExposedPorts": {"80/tcp": {}}}  # fmt: skip
    assert lib["image"]["userland"] == ["ca-certificates", "tzdata"]
    assert json.loads(lib["image"]["_prebuilt"])[0]["path"] == "/usr/local/bin/traefik"
    build = traefik._build_facts(_GitTag(TRAEFIK_MIRROR, tag))  # type: ignore[arg-type]
    assert build["go_module"] == f"github.com/traefik/traefik/v{tag[1]}"
    assert build["codename"].isalpha()
