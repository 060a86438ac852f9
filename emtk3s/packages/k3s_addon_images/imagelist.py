"""The addon images a K3s tag deploys, read from the tag's own files and cross-checked.

- ``scripts/airgap/image-list.txt``: one fully qualified reference a line (what the airgap
  archive holds and what we must build);
- what refers to them: ``image:`` lines in ``manifests/**/*.yaml`` (coredns, local-storage's
  provisioner and its busybox helper pod, metrics-server), the traefik chart's values
  (``image: {repository|name, tag}`` in the HelmChart's ``valuesContent``), servicelb's
  ``DefaultLBImage`` (``pkg/cloudprovider/servicelb.go``), the pause default
  (``DefaultPauseImage``, ``pkg/cli/cmds/const_linux.go``) and the helm-controller job image
  (``VERSION_HELM_JOB`` in scripts/version.sh, stamped by scripts/build as
  ``chart.DefaultJobImage``).

Every reference must be in the list and every listed image referred to; each listed image must
be one emtk3s can build from source (:data:`BUILDABLE`). Anything else is an error naming the
file (and line) and the image — never a silent default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emtk3s.infra.errors import InputError

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout

IMAGE_LIST = "scripts/airgap/image-list.txt"
SERVICELB = "pkg/cloudprovider/servicelb.go"
PAUSE_CONST = "pkg/cli/cmds/const_linux.go"
DEFAULT_REGISTRY = "docker.io"

_REF = re.compile(
    r"(?P<registry>[a-z0-9][a-z0-9.-]*\.[a-z]{2,}(?::[0-9]+)?/)?"
    r"(?P<repo>[a-z0-9][a-z0-9._-]*(?:/[a-z0-9][a-z0-9._-]*)+):(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127})"
)
_IMAGE_LINE = re.compile(
    r"""^\s*(?:-\s+)?image:\s*["']?(?:%\{SYSTEM_DEFAULT_REGISTRY\}%)?(?P<ref>[^"'\s]+)["']?\s*$"""
)
_IMAGE_BLOCK = re.compile(r"^(?P<indent>\s*)image:\s*$")
_KEY_VALUE = re.compile(
    r"""^(?P<indent>\s*)(?P<key>[A-Za-z]+):\s*["']?(?P<value>[^"'\s]*)["']?\s*$"""
)
_GO_CONST = r"""\b{name}\s*=\s*"(?P<ref>[^"]+)\""""
_JOB_IMAGE = re.compile(r"DefaultJobImage=(?P<repo>[a-z0-9./-]+):\$\{?VERSION_HELM_JOB\}?")


@dataclass(frozen=True)
class Buildable:
    """An addon image emtk3s builds from source: which upstream, at which tag."""

    name: str  # our short name (the payload package is k3s-addon-<name>)
    repository: str  # the image repository in K3s' list, without the registry
    upstream: str  # owner/name of the source repository
    tag_prefix: str  # the upstream tag is this prefix + the image tag ("v" for coredns 1.12.1)


#: What emtk3s can build from source. A listed image not here is an error naming it.
BUILDABLE = (
    Buildable("pause", "rancher/mirrored-pause", "kubernetes/kubernetes", ""),
    Buildable("coredns", "rancher/mirrored-coredns-coredns", "coredns/coredns", "v"),
    Buildable("busybox", "rancher/mirrored-library-busybox", "k3s-io/k3s-root", ""),
    Buildable("traefik", "rancher/mirrored-library-traefik", "traefik/traefik", "v"),
    Buildable(
        "metrics-server", "rancher/mirrored-metrics-server", "kubernetes-sigs/metrics-server", ""
    ),  # fmt: skip
    Buildable("klipper-helm", "rancher/klipper-helm", "k3s-io/klipper-helm", ""),
    Buildable("klipper-lb", "rancher/klipper-lb", "k3s-io/klipper-lb", ""),
    Buildable(
        "local-path-provisioner",
        "rancher/local-path-provisioner",
        "rancher/local-path-provisioner",
        "",
    ),  # fmt: skip
)


def normalize(ref: str, where: str) -> str:
    """``rancher/x:1`` -> ``docker.io/rancher/x:1`` (what containerd names it); a reference
    that is not registry/repository:tag is an error naming ``where``."""
    m = _REF.fullmatch(ref)
    if not m:
        raise InputError(
            f"{where}: {ref!r} is not an image reference (repository:tag)",
            "this K3s era is not understood; report it",
        )
    registry = (m.group("registry") or f"{DEFAULT_REGISTRY}/").rstrip("/")
    return f"{registry}/{m.group('repo')}:{m.group('tag')}"


def parse_image_list(text: str, where: str) -> list[str]:
    refs: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        ref = normalize(line, f"{where}:{lineno}")
        if ref in refs:
            raise InputError(f"{where}:{lineno}: {ref} listed twice", "report it upstream")
        refs.append(ref)
    if not refs:
        raise InputError(f"{where}: lists no image", "this K3s era is not understood")
    return refs


def manifest_references(files: dict[str, str]) -> dict[str, str]:
    """reference -> where (``file:line``) for every image a manifest names: ``image:`` lines
    and ``image:`` blocks of chart values (``repository`` or ``name``, and ``tag``)."""
    found: dict[str, str] = {}
    for path, text in sorted(files.items()):
        lines = text.splitlines()
        for i, line in enumerate(lines):
            where = f"{path}:{i + 1}"
            m = _IMAGE_LINE.match(line)
            if m and "{{" not in m.group("ref"):
                found.setdefault(normalize(m.group("ref"), where), where)
                continue
            b = _IMAGE_BLOCK.match(line)
            if not b:
                continue
            values: dict[str, str] = {}
            for nxt in lines[i + 1 :]:
                kv = _KEY_VALUE.match(nxt)
                if not kv or len(kv.group("indent")) <= len(b.group("indent")):
                    break
                values[kv.group("key")] = kv.group("value")
            repo = values.get("repository") or values.get("name")
            if not repo or not values.get("tag"):
                raise InputError(
                    f"{where}: an image block without repository/name and tag",
                    "this K3s era is not understood; report it",
                )
            registry = values.get("registry")
            ref = f"{registry}/{repo}:{values['tag']}" if registry else f"{repo}:{values['tag']}"
            found.setdefault(normalize(ref, where), where)
    return found


def go_default(text: str, name: str, where: str) -> tuple[str, str]:
    """(reference, file:line) of ``<name> = "<ref>"`` in a Go file."""
    pattern = re.compile(_GO_CONST.format(name=re.escape(name)))
    for lineno, line in enumerate(text.splitlines(), start=1):
        m = pattern.search(line)
        if m:
            return normalize(m.group("ref"), f"{where}:{lineno}"), f"{where}:{lineno}"
    raise InputError(f'{where}: no {name} = "..." found', "this K3s era is not understood")


def buildable_for(ref: str) -> Buildable | None:
    repo = ref.split("/", 1)[1].rsplit(":", 1)[0]
    return next((b for b in BUILDABLE if b.repository == repo), None)


def cross_check(listed: list[str], referenced: dict[str, str], where: str) -> None:
    """Every reference listed, every listed image referred to and buildable from source."""
    for ref, at in sorted(referenced.items()):
        if ref not in listed:
            raise InputError(
                f"{at}: image {ref} is not in {where}",
                "the tag's image list and manifests disagree; report it upstream",
            )
    for ref in listed:
        if buildable_for(ref) is None:
            raise InputError(
                f"{where}: image {ref} cannot be built from source by emtk3s",
                "add it to BUILDABLE in emtk3s/packages/k3s_addon_images/imagelist.py with a payload package",
            )
        if ref not in referenced:
            raise InputError(
                f"{where}: image {ref} is referred to by no manifest or default K3s has",
                "the tag's image list and manifests disagree; report it upstream",
            )


def read_images(checkout: TagCheckout, facts: dict[str, Any]) -> dict[str, dict[str, str]]:
    """name -> {registry, repository, tag, upstream, upstream_tag, _reference, _referenced_by}
    for the tag's images."""
    tag = checkout.info.tag

    def text_of(path: str) -> str:
        if not checkout.exists(path):
            raise InputError(
                f"{tag}: {path} is missing", "this K3s era is not understood; report it"
            )
        return checkout.read(path).decode("utf-8", "replace")

    where = f"{tag}:{IMAGE_LIST}"
    listed = parse_image_list(text_of(IMAGE_LIST), where)
    manifests = {  # list_dir walks the whole tree (metrics-server/ has its own folder)
        f"{tag}:{p}": checkout.read(p).decode("utf-8", "replace")
        for p in checkout.list_dir("manifests")
        if p.endswith(".yaml")
    }
    referenced = manifest_references(manifests)
    for path, name in ((SERVICELB, "DefaultLBImage"), (PAUSE_CONST, "DefaultPauseImage")):
        ref, at = go_default(text_of(path), name, f"{tag}:{path}")
        referenced.setdefault(ref, at)
    helm_job = facts.get("VERSION_HELM_JOB")
    if helm_job:
        build = checkout.read("scripts/build").decode("utf-8", "replace") if checkout.exists("scripts/build") else ""  # fmt: skip
        m = _JOB_IMAGE.search(build)
        # helm-controller's own default repository when the build only stamps the tag
        job_repo = m.group("repo") if m else "rancher/klipper-helm"
        referenced.setdefault(
            normalize(f"{job_repo}:{helm_job}", f"{tag}:scripts/version.sh"),
            f"{tag}:scripts/version.sh VERSION_HELM_JOB",
        )
    else:
        # older eras stamp no job image: helm-controller's built-in default (in its Go module,
        # not in the K3s tree) names it, so the listed klipper-helm is taken as that default
        # and the lock says so
        job = [r for r in listed if r.split("/", 1)[1].startswith("rancher/klipper-helm:")]
        if len(job) != 1:
            raise InputError(
                f"{tag}:scripts/version.sh: no VERSION_HELM_JOB and {where} lists "
                f"{len(job)} klipper-helm images",
                "this K3s era is not understood; report it",
            )
        referenced.setdefault(
            job[0], f"{tag}: helm-controller's built-in default (version.sh stamps no job image)"
        )
    cross_check(listed, referenced, where)
    out: dict[str, dict[str, str]] = {}
    for ref in listed:
        b = buildable_for(ref)
        assert b is not None
        image_tag = ref.rsplit(":", 1)[1]
        registry, rest = ref.split("/", 1)
        # lock facts are tokens; the reference (with its colon) and where it is referred to
        # are notes (keys starting with "_")
        out[b.name] = {
            "registry": registry,
            "repository": rest.rsplit(":", 1)[0],
            "tag": image_tag,
            "upstream": b.upstream,
            "upstream_tag": b.tag_prefix + image_tag,
            "_reference": ref,
            "_referenced_by": referenced[ref],
        }
    return out
