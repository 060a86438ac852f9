"""Image config from an upstream Dockerfile (final stage; setcap carried over by COPY --from)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from emtk3s.infra.errors import InputError
from emtk3s.packages.k3s_addon_images import dockerfile

COREDNS_MIRROR = Path("/work/.mirror/coredns+coredns/repo")

# shaped like coredns/coredns v1.12.1's Dockerfile (a Debian build stage that setcaps the
# binary, a distroless nonroot final stage); our own text
COREDNS_SHAPED = """ARG DEBIAN_IMAGE=debian:stable-slim
ARG BASE=gcr.io/distroless/static-debian12:nonroot
FROM --platform=$BUILDPLATFORM ${DEBIAN_IMAGE} AS build
SHELL [ "/bin/sh", "-ec" ]
RUN apt-get -qq update ; \\
    apt-get -yyqq install ca-certificates libcap2-bin
COPY coredns /coredns
RUN setcap cap_net_bind_service=+ep /coredns

FROM --platform=$TARGETPLATFORM ${BASE}
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /coredns /coredns
USER nonroot:nonroot
WORKDIR /
EXPOSE 53 53/udp
ENTRYPOINT ["/coredns"]
"""

# shaped like kubernetes build/pause/Dockerfile (FROM scratch, ADD the binary, numeric user)
PAUSE_SHAPED = """ARG BASE
FROM ${BASE}
ARG ARCH
ADD bin/pause-linux-${ARCH} /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
"""


def test_coredns_shaped() -> None:
    got = dockerfile.parse(COREDNS_SHAPED, "Dockerfile")
    assert got == {
        "base": "gcr.io/distroless/static-debian12:nonroot",
        "config": {
            "User": "nonroot:nonroot",
            "WorkingDir": "/",
            "Entrypoint": ["/coredns"],
            "ExposedPorts": {"53/tcp": {}, "53/udp": {}},
        },
        "capabilities": {"/coredns": {"caps": ["cap_net_bind_service"], "effective": True}},
    }


def test_pause_shaped_env_cmd_and_shell_form() -> None:
    got = dockerfile.parse(PAUSE_SHAPED + 'ENV A=1 B="two words"\nENV A 3\nCMD exec thing\n', "p")
    assert got["config"] == {
        "User": "65535:65535",
        "Entrypoint": ["/pause"],
        "Cmd": ["/bin/sh", "-c", "exec thing"],
        "Env": ["B=two words", "A=3"],
    }
    assert got["base"] == "" and got["capabilities"] == {}


@pytest.mark.parametrize(
    "text, message",
    [
        ("FROM scratch\nRUN echo hi\n", "p:2: RUN 'echo hi' in the final stage"),
        ("FROM scratch\nFROBNICATE x\n", "p:2: Dockerfile instruction FROBNICATE not understood"),
        ("USER 1\nFROM scratch\n", "p:1: USER before the first FROM"),
        ('FROM scratch\nENTRYPOINT ["/a", 1]\n', "p:2: JSON form must be a list of strings"),
        ("# nothing\n", "p: no FROM"),
    ],
)
def test_what_it_cannot_mirror_is_an_error_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as exc:
        dockerfile.parse(text, "p")
    assert message in exc.value.message


@pytest.mark.skipif(not COREDNS_MIRROR.is_dir(), reason="no coredns/coredns snapshot here")
def test_the_real_coredns_dockerfile_at_v1_12_1() -> None:
    text = subprocess.run(
        ["git", "--git-dir", str(COREDNS_MIRROR), "show", "v1.12.1:Dockerfile"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert dockerfile.parse(text, "v1.12.1:Dockerfile") == dockerfile.parse(COREDNS_SHAPED, "x")


def test_alpine_package_installs_become_userland_and_other_runs_stay_errors() -> None:
    from tests.fixtures.addon_images import KLIPPER_LB_DOCKERFILE

    got = dockerfile.parse(KLIPPER_LB_DOCKERFILE, "Dockerfile")
    assert got["base"] == "alpine:3.21" and got["config"] == {"Cmd": ["entry"]}
    assert got["userland"] == ["ip6tables", "iptables", "iptables-legacy", "nftables"]
    assert dockerfile.from_facts(dockerfile.to_facts(got)) == got
    with pytest.raises(InputError, match="p:2: RUN 'curl -o /x http://e' in the final stage"):
        dockerfile.parse("FROM alpine:3.21\nRUN apk add iptables && curl -o /x http://e\n", "p")


def test_userland_maps_alpine_packages_to_k3s_root_programs_or_names_the_unknown() -> None:
    from emtk3s.packages.k3s_addon_images import images

    assert images.userland_programs(["iptables", "nftables"]) == [
        "xtables-legacy-multi",
        "xtables-nft-multi",
    ]
    # bash and jq come from EMT's RPMs, the CA bundle from ca-certificates (klipper-helm)
    assert images.userland_programs(["bash", "jq", "ca-certificates"]) == []
    with pytest.raises(ValueError, match="'git'"):  # klipper-helm v0.7.4 installed git
        images.userland_programs(["bash", "git"])
    assert images.base_kind("alpine:3.21") == "alpine"
    with pytest.raises(ValueError, match="ubuntu"):
        images.base_kind("ubuntu:24.04")


KLIPPER_LB_MIRROR = Path("/work/.mirror/k3s-io+klipper-lb/repo")
LPP_MIRROR = Path("/work/.mirror/rancher+local-path-provisioner/repo")


def _show(mirror: Path, what: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(mirror), "show", what], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.skipif(not KLIPPER_LB_MIRROR.is_dir(), reason="no k3s-io/klipper-lb snapshot here")
def test_the_real_klipper_lb_dockerfile_at_v0_4_13() -> None:
    from tests.fixtures.addon_images import KLIPPER_LB_DOCKERFILE

    real = dockerfile.parse(_show(KLIPPER_LB_MIRROR, "v0.4.13:Dockerfile"), "v0.4.13:Dockerfile")
    assert real == dockerfile.parse(KLIPPER_LB_DOCKERFILE, "fixture")


@pytest.mark.skipif(not LPP_MIRROR.is_dir(), reason="no rancher/local-path-provisioner snapshot")
def test_the_real_local_path_provisioner_dockerfile_per_arch() -> None:
    # v0.0.31's final stage runs a TARGETPLATFORM guard and sets ENV ARCH from the platform
    from tests.fixtures.addon_images import LOCAL_PATH_DOCKERFILE

    text = _show(LPP_MIRROR, "v0.0.31:package/Dockerfile")
    facts = dockerfile.read(text, "v0.0.31:package/Dockerfile")
    assert json.loads(facts["_config_arm64"]) == {
        "Cmd": ["local-path-provisioner"],
        "Env": ["ARCH=arm64"],
    }
    assert facts == dockerfile.read(LOCAL_PATH_DOCKERFILE, "fixture")


def test_platform_guard_and_arch_dependent_env() -> None:
    from tests.fixtures.addon_images import LOCAL_PATH_DOCKERFILE

    amd = dockerfile.parse(LOCAL_PATH_DOCKERFILE, "p", "amd64")
    assert amd["base"] == "alpine" and amd["config"]["Env"] == ["ARCH=amd64"]
    assert "userland" not in amd  # apk upgrade installs nothing new
    with pytest.raises(InputError, match=r"p:5: upstream refuses linux/riscv64"):
        dockerfile.parse(LOCAL_PATH_DOCKERFILE, "p", "riscv64")
    with pytest.raises(InputError, match="a TARGETPLATFORM guard needs the architecture"):
        dockerfile.parse(LOCAL_PATH_DOCKERFILE, "p")
    facts = dockerfile.read(LOCAL_PATH_DOCKERFILE, "p")
    assert dockerfile.from_facts(facts, "arm64")["config"]["Env"] == ["ARCH=arm64"]


TRAEFIK_LIBRARY_MIRROR = Path("/work/.mirror/traefik+traefik-library-image/repo")
TRAEFIK_PREBUILT = {
    "path": "/usr/local/bin/traefik",
    "url": "https://github.com/traefik/traefik/releases/download/v3.3.6/traefik_v3.3.6_linux_<arch>.tar.gz",
}


def test_a_prebuilt_binary_download_is_recorded_not_run_nor_ignored() -> None:
    from tests.fixtures.addon_images import TRAEFIK_DOCKERFILE

    got = dockerfile.parse(TRAEFIK_DOCKERFILE, "v3.3/alpine/Dockerfile", "amd64")
    assert got["base"] == "alpine:3.21"
    assert got["config"] == {
        "Entrypoint": ["/entrypoint.sh"],
        "Cmd": ["traefik"],
        "ExposedPorts": {"80/tcp": {}},
    }
    assert got["userland"] == ["ca-certificates", "tzdata"]
    # the download is a fact of the lock (the shell's $arch as <arch>: a fact holds no $)
    assert got["prebuilt"] == [TRAEFIK_PREBUILT]
    facts = dockerfile.read(TRAEFIK_DOCKERFILE, "x")
    assert json.loads(facts["_prebuilt"]) == [TRAEFIK_PREBUILT]
    assert dockerfile.from_facts(facts, "arm64")["prebuilt"] == [TRAEFIK_PREBUILT]
    # a download that unpacks nothing into the image is still a RUN we cannot mirror
    with pytest.raises(InputError, match="p:2: RUN"):
        dockerfile.parse(
            'FROM alpine\nRUN wget -O /x "https://github.com/a/b/releases/download/v1/b"\n', "p"
        )


def test_alpine_data_packages_come_from_the_build_host() -> None:
    from emtk3s.packages.k3s_addon_images import images

    assert images.userland_programs(["ca-certificates", "tzdata"]) == []
    assert images.host_data(["ca-certificates", "tzdata", "iptables"]) == [
        "ca-certificates",
        "tzdata",
    ]


@pytest.mark.skipif(
    not TRAEFIK_LIBRARY_MIRROR.is_dir(), reason="no traefik/traefik-library-image snapshot here"
)
@pytest.mark.parametrize(("tag", "path", "base"), [
    ("v3.3.6", "v3.3/alpine/Dockerfile", "alpine:3.21"),  # K3s v1.32.4+k3s1
    ("v2.9.4", "alpine/Dockerfile", "alpine:3.15"),  # K3s 1.26 (one line then, no v2.9/ dir)
])  # fmt: skip
def test_the_real_traefik_library_dockerfile(tag: str, path: str, base: str) -> None:
    from tests.fixtures.addon_images import TRAEFIK_DOCKERFILE

    real = dockerfile.parse(_show(TRAEFIK_LIBRARY_MIRROR, f"{tag}:{path}"), path, "amd64")
    assert real["base"] == base
    assert real["prebuilt"] == [
        {"path": "/usr/local/bin/traefik",
         "url": f"https://github.com/traefik/traefik/releases/download/{tag}/traefik_{tag}_linux_<arch>.tar.gz"}
    ]  # fmt: skip
    shaped = dockerfile.parse(TRAEFIK_DOCKERFILE, path, "amd64")
    assert (real["config"], real["userland"]) == (shaped["config"], shaped["userland"])
