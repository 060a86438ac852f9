"""A K3s tag's addon images: scripts/airgap/image-list.txt cross-checked against what refers to
them (manifests, traefik's chart values, servicelb's and the pause defaults, the helm job)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emtk3s.infra.errors import InputError
from emtk3s.packages.k3s_addon_images import imagelist
from tests.fixtures import addon_images


@dataclass
class _Info:
    tag: str


class TreeCheckout:
    """A tag's tree as files (what TagCheckout reads from git), for the reader's input."""

    def __init__(self, files: dict[str, str | bytes], tag: str = "v1.32.4+k3s1") -> None:
        self.files = {p: v.encode() if isinstance(v, str) else v for p, v in files.items()}
        self.info = _Info(tag)

    def read(self, path: str) -> bytes:
        return self.files[path]

    def exists(self, path: str) -> bool:
        return path in self.files

    def list_dir(self, path: str) -> list[str]:
        return sorted(p for p in self.files if p.startswith(path + "/"))


FACTS: dict[str, Any] = {"VERSION_HELM_JOB": "v0.9.5-build20250306"}


def _tree(**changes: str | None) -> TreeCheckout:
    files: dict[str, str | bytes] = dict(addon_images.k3s_files(addon_images.IMAGE_LIST_V1_32_4))
    for path, text in changes.items():
        path = path.replace("__", "/").replace("_dot_", ".")
        if text is None:
            files.pop(path, None)
        else:
            files[path] = text
    return TreeCheckout(files)


def test_the_v1_32_4_list_reads_and_every_image_is_referred_to() -> None:
    images = imagelist.read_images(_tree(), FACTS)  # type: ignore[arg-type]
    assert sorted(i["_reference"] for i in images.values()) == sorted(
        addon_images.IMAGE_LIST_V1_32_4
    )
    assert images["coredns"]["upstream"] == "coredns/coredns"
    assert images["coredns"]["upstream_tag"] == "v1.12.1"
    assert images["pause"]["tag"] == "3.6"
    assert images["traefik"]["_referenced_by"].startswith("v1.32.4+k3s1:manifests/traefik.yaml:")
    assert images["klipper-lb"]["_referenced_by"].endswith("servicelb.go:6")
    assert images["klipper-helm"]["_referenced_by"].endswith("VERSION_HELM_JOB")


def test_old_traefik_values_name_the_image_with_name() -> None:
    # 1.23-era manifests/traefik.yaml: image: {name: "rancher/mirrored-library-traefik", tag}
    text = 'spec:\n  valuesContent: |-\n    image:\n      name: "rancher/x-traefik"\n      tag: "2.6.1"\n    tolerations:\n'  # fmt: skip
    assert imagelist.manifest_references({"t.yaml": text}) == {
        "docker.io/rancher/x-traefik:2.6.1": "t.yaml:3"
    }


@pytest.mark.parametrize(
    "changes, message",
    [
        # the list names an image nothing refers to (the list and manifests disagree)
        (
            {"manifests__coredns_dot_yaml": "kind: ConfigMap\n"},
            "mirrored-coredns-coredns:1.12.1 is referred to by no manifest",
        ),
        # a manifest names an image the list lacks
        (
            {
                "pkg__cloudprovider__servicelb_dot_go": 'var DefaultLBImage = "rancher/klipper-lb:v9"\n'
            },
            "servicelb.go:1: image docker.io/rancher/klipper-lb:v9 is not in",
        ),
        # an image emtk3s cannot build from source, named
        (
            {
                "scripts__airgap__image-list_dot_txt": "\n".join(
                    [*addon_images.IMAGE_LIST_V1_32_4, "docker.io/rancher/mirrored-unknown:1.0"]
                )
            },
            "docker.io/rancher/mirrored-unknown:1.0 cannot be built from source",
        ),
        # a line that is no reference: the file and line named
        (
            {"scripts__airgap__image-list_dot_txt": "docker.io/rancher/pause 3.6\n"},
            "image-list.txt:1: 'docker.io/rancher/pause 3.6' is not an image reference",
        ),
        ({"pkg__cli__cmds__const_linux_dot_go": None}, "const_linux.go is missing"),
        ({"scripts__airgap__image-list_dot_txt": None}, "image-list.txt is missing"),
        (
            {"manifests__traefik_dot_yaml": '    image:\n      tag: "3.3.6"\n'},
            "traefik.yaml:1: an image block without repository/name and tag",
        ),
    ],
)
def test_disagreements_are_errors_naming_file_and_image(
    changes: dict[str, str | None], message: str
) -> None:
    with pytest.raises(InputError) as exc:
        imagelist.read_images(_tree(**changes), FACTS)  # type: ignore[arg-type]
    assert message in exc.value.message
    assert "\n" not in exc.value.message


def test_the_helm_job_tag_must_be_the_listed_one() -> None:
    with pytest.raises(InputError, match="klipper-helm:v0.9.4-build20250113 is not in"):
        imagelist.read_images(_tree(), {"VERSION_HELM_JOB": "v0.9.4-build20250113"})  # type: ignore[arg-type]
    # an era whose version.sh stamps no job image: helm-controller's default, said in the lock
    images = imagelist.read_images(_tree(), {})  # type: ignore[arg-type]
    assert "built-in default" in images["klipper-helm"]["_referenced_by"]
    no_job = "\n".join(r for r in addon_images.IMAGE_LIST_V1_32_4 if "klipper-helm" not in r)
    with pytest.raises(InputError, match="no VERSION_HELM_JOB and .* lists 0 klipper-helm"):
        imagelist.read_images(_tree(**{"scripts__airgap__image-list_dot_txt": no_job}), {})  # type: ignore[arg-type]


def test_the_fixture_tree_stays_consistent_with_its_version_sh() -> None:
    # the default-release fixture's version.sh says v0.9.4-build20250113: its list must too
    files = addon_images.add_to({"manifests/coredns.yaml": "kind: ConfigMap\n"})
    images = imagelist.read_images(TreeCheckout(files), {"VERSION_HELM_JOB": addon_images.FIXTURE_HELM_JOB})  # type: ignore[arg-type]  # fmt: skip
    assert images["klipper-helm"]["tag"] == addon_images.FIXTURE_HELM_JOB


ERAS = Path(__file__).resolve().parent.parent / "data" / "k3s"


def _era_trees() -> list[str]:
    if not ERAS.is_dir():
        return []
    return sorted(p.name for p in ERAS.iterdir() if (p / "scripts/airgap/image-list.txt").is_file())


@pytest.mark.skipif(not _era_trees(), reason="no K3s era fixture trees (tests/data/k3s) here")
@pytest.mark.parametrize("era", _era_trees())
def test_every_era_fixture_reads_with_the_image_files_added(era: str) -> None:
    """The era fixture trees (each era's image list and manifests), completed by
    addon_images.add_to where an era's tree lacks a file that names an image."""
    from emtk3s.packages.k3s.upstream import parse_version_sh

    files: dict[str, str | bytes] = {}
    for d in (ERAS / "common", ERAS / era):
        for f in d.rglob("*") if d.is_dir() else ():
            if f.is_file():
                files[str(f.relative_to(d))] = f.read_bytes()
    listed = imagelist.parse_image_list(files["scripts/airgap/image-list.txt"].decode(), era)  # type: ignore[union-attr]
    version_sh = files.get("scripts/version.sh", b"")
    facts = parse_version_sh(version_sh.decode() if isinstance(version_sh, bytes) else version_sh)
    images = imagelist.read_images(TreeCheckout(addon_images.add_to(files, tuple(listed))), facts)  # type: ignore[arg-type]
    assert sorted(i["_reference"] for i in images.values()) == sorted(listed)
