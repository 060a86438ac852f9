"""klipper-helm's image from source: its Dockerfile read (config, the adduser'd user, the Alpine
packages, the Helm and plugin tags), the image description (busybox, bash and jq with their
libraries, helm and the entry, the plugins owned by the user), the ELF closure copier and the
writer's ``tree`` item."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from emtk3s.infra.errors import InputError
from emtk3s.packages import k3s_addon_images as addon_images
from emtk3s.packages.k3s_addon_images import dockerfile, elfclosure, images
from emtk3s.packages.k3s_addon_images import ociarchive as oci
from emtk3s.packages.k3s_addon_klipper_helm import helm_facts
from tests.fixtures.addon_images import KLIPPER_HELM_DOCKERFILE

MIRROR = Path("/work/.mirror/k3s-io+klipper-helm/repo")
CONFIG = {
    "Entrypoint": ["entry"],
    "Env": ["STABLE_REPO_URL=https://charts.helm.sh/stable/", "TIMEOUT="],
    "User": "1000",
    "WorkingDir": "/home/klipper-helm",
}
USER = {"name": "klipper-helm", "uid": 1000, "gid": 1000, "home": "/home/klipper-helm",
        "shell": "/bin/bash"}  # fmt: skip


def _show(what: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(MIRROR), "show", what], capture_output=True, text=True, check=True
    ).stdout


def test_the_fixture_dockerfile_reads_as_upstream_config_user_and_packages() -> None:
    got = dockerfile.parse(KLIPPER_HELM_DOCKERFILE, "package/Dockerfile", "amd64")
    assert got["base"] == "alpine:3.21" and got["config"] == CONFIG
    assert got["userland"] == ["bash", "ca-certificates", "jq"]
    assert got["users"] == [USER]
    assert dockerfile.from_facts(dockerfile.to_facts(got), "amd64") == got
    assert helm_facts(KLIPPER_HELM_DOCKERFILE, "f") == {
        "helm_tag": "v3.16.4", "set_status_tag": "v0.3.0", "mapkubeapis_tag": "v0.5.2"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("run", "message"),
    [
        ("adduser -g gecos -D x", r"p:2: adduser -g not understood"),
        ("adduser -D -u abc x", r"p:2: adduser -u 'abc' is not a number"),
        ("adduser -D -s bash x", r"p:2: adduser -s 'bash' is not an absolute path"),
        ("adduser -D -h /home/../etc x", r"p:2: adduser -h '/home/../etc' is not an absolute path"),
        ("adduser -D x && chown x /y", r"p:2: RUN 'chown x /y' in the final stage"),
    ],
)
def test_what_adduser_cannot_mirror_is_an_error_naming_the_line(run: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        dockerfile.parse(f"FROM alpine:3.21\nRUN {run}\n", "p")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM alpine\n", "names 0 Helm releases from get.helm.sh"),
        ("RUN curl https://get.helm.sh/helm-v3.16.4-linux-x.tgz\n", "builds no helm/helm-mapkubeapis"),
        ("RUN curl https://get.helm.sh/helm-v3.16.4-linux-x https://get.helm.sh/helm-v3.17.0-linux-x\n",
         "names 2 Helm releases"),
    ],
)  # fmt: skip
def test_helm_facts_refuse_what_they_do_not_follow(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        helm_facts(text, "f")


@pytest.mark.skipif(not MIRROR.is_dir(), reason="no k3s-io/klipper-helm snapshot here")
@pytest.mark.parametrize(
    ("tag", "path"),
    [("v0.9.4-build20250113", "package/Dockerfile"), ("v0.9.5-build20250306", "Dockerfile")],
)
def test_the_real_dockerfiles_read_as_the_fixture(tag: str, path: str) -> None:
    for arch in dockerfile.ARCHES:
        real = dockerfile.parse(_show(f"{tag}:{path}"), f"{tag}:{path}", arch)
        assert real == dockerfile.parse(KLIPPER_HELM_DOCKERFILE, "fixture", arch)
    assert helm_facts(_show(f"{tag}:{path}"), tag) == helm_facts(KLIPPER_HELM_DOCKERFILE, "f")


@pytest.mark.skipif(not MIRROR.is_dir(), reason="no k3s-io/klipper-helm snapshot here")
def test_the_real_eras_emtk3s_does_not_follow_are_errors_naming_the_file() -> None:
    with pytest.raises(InputError, match="builds k3s-io/helm-mapkubeapis v0.4.1-k3s1"):
        helm_facts(_show("v0.8.3-build20240228:package/Dockerfile"), "v0.8.3:package/Dockerfile")
    with pytest.raises(InputError, match=r"v0.13.2:Dockerfile: names 0 Helm releases"):
        helm_facts(_show("v0.13.2-build20260716:Dockerfile"), "v0.13.2:Dockerfile")
    # v0.9.10 (K3s 1.35): Helm v3.19.1, mapkubeapis v0.6.1
    facts = helm_facts(_show("v0.9.10-build20251111:Dockerfile"), "v0.9.10")
    assert facts["helm_tag"] == "v3.19.1" and facts["mapkubeapis_tag"] == "v0.6.1"


def test_the_image_description_mirrors_upstream_without_alpine() -> None:
    upstream = dockerfile.parse(KLIPPER_HELM_DOCKERFILE, "f", "amd64")
    image = {"name": "klipper-helm", "reference": "docker.io/rancher/klipper-helm:v0.9.5-build20250306",
             "upstream": {"amd64": upstream}}  # fmt: skip
    desc = addon_images.description(image, "amd64", 1745000000)
    files = {f["path"]: f for f in desc["files"]}
    assert files["etc/passwd"]["lines"] == [
        "root:x:0:0:root:/root:/bin/sh",
        "klipper-helm:x:1000:1000:klipper-helm:/home/klipper-helm:/bin/bash",
    ]
    assert files["home/klipper-helm"] == {"path": "home/klipper-helm", "dir": True, "mode": "0755",
                                          "uid": 1000, "gid": 1000}  # fmt: skip
    assert files["tmp"]["mode"] == "1777"
    assert files[images.CA_IN_IMAGE]["source"] == addon_images.PAYLOAD_FILES["ca"]
    assert files["usr/bin/helm"]["source"] == "payload/helm/helm"
    assert files["usr/bin/entry"]["source"] == "payload/klipper-helm/entry"
    assert files[""] == {"path": "", "tree": "payload/klipper-helm-userland"}
    assert {"tr", "base64", "grep", "cat"} <= {p[4:] for p in files if p.startswith("bin/")}
    plugins = "home/klipper-helm/.local/share/helm/plugins"
    assert files[f"{plugins}/helm-set-status/helm-set-status"]["uid"] == 1000
    assert files[f"{plugins}/helm-mapkubeapis/bin/mapkubeapis"]["source"] == (
        "payload/helm-mapkubeapis/bin/mapkubeapis"
    )
    for d in (".local", ".local/share", ".local/share/helm", ".local/share/helm/plugins"):
        assert files[f"home/klipper-helm/{d}"]["uid"] == 1000
    assert desc["config"]["User"] == "1000" and desc["config"]["Entrypoint"] == ["entry"]
    assert desc["config"]["Env"][0].startswith("PATH=")


def test_host_programs_map_alpine_packages_to_emt_rpm_programs() -> None:
    assert images.host_programs(["bash", "ca-certificates", "jq"]) == {
        "/usr/bin/bash": "bin/bash", "/usr/bin/jq": "usr/bin/jq"
    }  # fmt: skip
    assert images.host_programs(["iptables"]) == {}


@pytest.mark.skipif(not os.path.isfile("/usr/bin/bash"), reason="no /usr/bin/bash")
def test_elf_closure_of_bash_reads_the_loader_and_libraries(tmp_path: Path) -> None:
    files = elfclosure.closure({"bin/bash": "/usr/bin/bash"})
    interp, needed = elfclosure.elf_deps("/usr/bin/bash")
    assert interp.startswith("/") and files[interp.lstrip("/")] == interp
    assert "libc.so.6" in needed
    assert any(p.endswith("/libc.so.6") for p in files)
    # copied into a tree where bash runs by itself (chroot needs root: checked when we are)
    rc = elfclosure.main([str(tmp_path / "t"), "/usr/bin/bash=/bin/bash"])
    assert rc == 0 and (tmp_path / "t" / "bin" / "bash").stat().st_mode & 0o777 == 0o755
    if os.geteuid() == 0 and shutil.which("chroot"):
        out = subprocess.run(["chroot", str(tmp_path / "t"), "/bin/bash", "-c", "echo $((6*7))"],
                             capture_output=True, text=True)  # fmt: skip
        assert out.stdout == "42\n", out.stderr


def test_elf_closure_refuses_what_is_not_a_64_bit_elf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    script = tmp_path / "prog"
    script.write_text("#!/bin/sh\n")
    assert elfclosure.main([str(tmp_path / "t"), f"{script}=/bin/prog"]) == 1
    assert f"elfclosure: {script}: not a 64-bit little-endian ELF file" in capsys.readouterr().err
    assert elfclosure.main([str(tmp_path / "t"), f"{tmp_path}/missing=/bin/x"]) == 1
    assert "no such file on the build host" in capsys.readouterr().err
    with pytest.raises(elfclosure.ClosureError, match="library libnothere.so.9 not found"):
        elfclosure.find_library("libnothere.so.9", [str(tmp_path)])


def test_a_tree_item_adds_files_and_links_with_the_items_owner(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "lib" / "sub").mkdir(parents=True)
    (tree / "lib" / "sub" / "libx.so.1").write_bytes(b"\x7fELF")
    (tree / "lib" / "sub" / "libx.so.1").chmod(0o750)  # executable: 0755 in the image
    (tree / "lib" / "libx.so").symlink_to("sub/libx.so.1")
    (tree / "lib").chmod(0o700)  # a directory's own mode is not carried over (0755)
    desc = {"reference": "docker.io/rancher/x:1", "architecture": "amd64", "created": 1,
            "config": {}, "files": [{"tree": "tree", "path": "opt", "uid": 7, "gid": 8}]}  # fmt: skip
    by_path = {e.path: e for e in oci.image_from(desc, str(tmp_path)).entries}
    assert sorted(by_path) == [
        "opt",
        "opt/lib",
        "opt/lib/libx.so",
        "opt/lib/sub",
        "opt/lib/sub/libx.so.1",
    ]
    assert by_path["opt/lib/libx.so"].link == "sub/libx.so.1"
    lib = by_path["opt/lib/sub/libx.so.1"]
    assert (lib.mode, lib.uid, lib.gid) == (0o755, 7, 8)
    assert by_path["opt/lib"].mode == 0o755 and by_path["opt/lib"].kind == "dir"
    # path "": the tree's content at the image's root, without an entry for the root itself
    root = {**desc, "files": [{"tree": "tree", "path": ""}]}
    assert sorted(e.path for e in oci.image_from(root, str(tmp_path)).entries)[0] == "lib"
    with pytest.raises(oci.ImageError, match="tree 'nope' is not a directory"):
        oci.image_from({**desc, "files": [{"tree": "nope"}]}, str(tmp_path))


class _Tree:
    """A tag's files, as the facts readers see a checkout."""

    def __init__(self, tag: str, files: dict[str, str]) -> None:
        self.files, self.info = files, type("Info", (), {"tag": tag})()

    def exists(self, path: str) -> bool:
        return path in self.files

    def read(self, path: str) -> bytes:
        return self.files[path].encode()


def test_helm_and_set_status_facts_from_their_trees() -> None:
    from emtk3s.packages import k3s_addon_helm, k3s_addon_helm_set_status
    from tests.fixtures.addon_images import HELM_TREE, SET_STATUS_TREE

    tree = _Tree("v3.16.4", HELM_TREE)
    assert k3s_addon_helm._facts(tree) == {"k8s_major": "1", "k8s_minor": "31"}  # type: ignore[arg-type]
    block = (
        "module helm.sh/helm/v3\n\nrequire (\n\tk8s.io/api v0.31.3\n\tk8s.io/client-go v0.31.3\n)\n"
    )
    assert k3s_addon_helm._facts(_Tree("v", {"go.mod": block}))["k8s_minor"] == "31"  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"helm/helm v9:go.mod: no k8s.io/client-go"):
        k3s_addon_helm._facts(_Tree("v9", {"go.mod": "module x\n"}))  # type: ignore[arg-type]
    status = _Tree("v0.3.0", SET_STATUS_TREE)
    assert k3s_addon_helm_set_status._facts(status) == {"plugin_version": "0.1.0"}  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"v0.3.0:plugin.yaml: no version: line"):
        k3s_addon_helm_set_status._facts(_Tree("v0.3.0", {}))  # type: ignore[arg-type]


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
def test_the_vendor_maker_leaves_out_a_symlink_leaving_the_tree(tmp_path: Path) -> None:
    """helm's tag archive has internal/third_party/dep/fs/testdata/symlinks/invalid-symlink ->
    /non/existing/file: the maker unpacks past it (go reaches its own step: a module without
    requirements gets no vendor/modules.txt) instead of refusing the archive."""
    import tarfile

    from emtk3s.infra.errors import BuildError
    from emtk3s.packages.k3s.vendor import make_vendor

    top = tmp_path / "m-1.0"
    (top / "testdata").mkdir(parents=True)
    (top / "go.mod").write_text("module example.com/m\n\ngo 1.22\n")
    (top / "main.go").write_text("package main\n\nfunc main() {}\n")
    (top / "testdata" / "invalid-symlink").symlink_to("/non/existing/file")
    with tarfile.open(tmp_path / "m-1.0.tar.gz", "w:gz") as tf:
        tf.add(top, arcname="m-1.0")
    with pytest.raises(BuildError, match="go mod vendor made no vendor/modules.txt"):
        make_vendor(tmp_path / "m-1.0.tar.gz", tmp_path / "v.tar.gz", 1700000000,
                    tmp_path / "work", tmp_path / "cache", "m-1.0.tar.gz")  # fmt: skip
    src = tmp_path / "work" / "src" / "m-1.0"
    assert (src / "main.go").is_file() and not (src / "testdata" / "invalid-symlink").is_symlink()
