"""The images K3s deploys as addons (pause, coredns, busybox, local-path-provisioner,
metrics-server, klipper-helm, klipper-lb, traefik), built from source and written as
deterministic OCI archives (``ociarchive.py``) that K3s imports at start, with no registry.

- component ``k3s-images``: the K3s tag's image list, cross-checked against its manifests
  (``imagelist.py``);
- the payload packages (k3s-addon-pause, k3s-addon-coredns) build the programs; busybox comes
  from our k3s-root build (k3s-root-dist); each image's config comes from its upstream
  Dockerfile at the tag (``dockerfile.py``, recorded in the lock under the payload's component);
- this package's %build writes one archive per image and architecture with the writer, which is
  a Source of its own (our code, pinned by its hash).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emtk3s.infra.errors import InputError
from emtk3s.model.package import (
    ComponentDef,
    GenerateContext,
    PackageDef,
    ResolveContext,
    SourceRule,
)

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout
    from emtk3s.model.lock import Component


def _k3s_tag(ctx: ResolveContext) -> str:
    return ctx.release.k3s.tag


def _images(checkout: TagCheckout) -> dict[str, Any]:
    from emtk3s.packages.k3s.upstream import parse_version_sh
    from emtk3s.packages.k3s_addon_images.imagelist import read_images

    tag = checkout.info.tag
    version_sh = (
        checkout.read("scripts/version.sh").decode("utf-8", "replace")
        if checkout.exists("scripts/version.sh")
        else ""
    )
    facts = parse_version_sh(version_sh, f"{tag}:scripts/version.sh")
    return {"images": read_images(checkout, facts)}


def _elfclosure(ctx: GenerateContext) -> tuple[Path, str]:
    """Our copier of build-host programs with their libraries (bash, jq for klipper-helm), a
    Source of the spec like the writer."""
    out = ctx.workdir / "k3s-addon-images-elfclosure.py"
    shutil.copyfile(Path(__file__).parent / "elfclosure.py", out)
    return out, "generated-emtk3s-elfclosure"


def _writer(ctx: GenerateContext) -> tuple[Path, str]:
    """Our OCI archive writer, as a Source of the spec (pinned by its hash: a change to the
    writer is a change to the SRPM)."""
    out = ctx.workdir / "k3s-addon-images-ociarchive.py"
    shutil.copyfile(Path(__file__).parent / "ociarchive.py", out)
    return out, "generated-emtk3s-ociarchive"


#: The images this release builds: name -> (payload package, its component, the macro the
#: rpmbuild backend points at the unpacked payload RPM). busybox comes from k3s-root-dist.
PAYLOADS: dict[str, tuple[str, str, str]] = {
    "pause": ("k3s-addon-pause", "kubernetes-pause", "addon_pause_root"),
    "coredns": ("k3s-addon-coredns", "coredns", "addon_coredns_root"),
    "busybox": ("k3s-root-dist", "k3s-root", "k3s_root_dir"),
    "klipper-lb": ("k3s-addon-klipper-lb", "klipper-lb", "addon_klipper_lb_root"),
    "klipper-helm": ("k3s-addon-klipper-helm", "klipper-helm", "addon_klipper_helm_root"),
    "metrics-server": ("k3s-addon-metrics-server", "metrics-server", "addon_metrics_server_root"),
    "local-path-provisioner": (
        "k3s-addon-local-path-provisioner",
        "local-path-provisioner",
        "addon_local_path_provisioner_root",
    ),
    # the image config and entrypoint.sh come from the library image's repository, the
    # program from traefik/traefik (PROGRAM_COMPONENT)
    "traefik": ("k3s-addon-traefik", "traefik-library-image", "addon_traefik_root"),
}
#: the files each payload package installs under /usr/lib/k3s-addons/<image>/
PAYLOAD_FILE: dict[str, tuple[str, ...]] = {
    "pause": ("pause",),
    "coredns": ("coredns",),
    "klipper-lb": ("entry",),
    "klipper-helm": ("entry",),
    "metrics-server": ("metrics-server",),
    "local-path-provisioner": ("local-path-provisioner",),
    "traefik": ("traefik", "entrypoint.sh"),
}
#: where the image's program is built from, when not the component its config comes from
PROGRAM_COMPONENT = {"traefik": "traefik"}
#: what differs from upstream's image beyond the userland, said in the spec and the image's SBOM
NOTES = {
    "traefik": "traefik built from source WITHOUT the dashboard's web assets (they need a Node "
    "build); its dashboard serves one page saying it is not built",
}
#: images whose upstream Dockerfile downloads a prebuilt program (dockerfile.py records the
#: download) that our payload package builds from source instead
BUILDS_PREBUILT = {"traefik"}

#: the other payload packages an image takes files from: image -> (package, its component,
#: macro, the directory it installs under /usr/lib/k3s-addons/). klipper-helm: helm and the two
#: plugins its Dockerfile builds, each at the tag that Dockerfile names
PARTS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "klipper-helm": (
        ("k3s-addon-helm", "helm", "addon_helm_root", "helm"),
        ("k3s-addon-helm-set-status", "helm-set-status", "addon_helm_set_status_root",
         "helm-set-status"),
        ("k3s-addon-helm-mapkubeapis", "helm-mapkubeapis", "addon_helm_mapkubeapis_root",
         "helm-mapkubeapis"),
    ),
}  # fmt: skip

#: the busybox applets klipper-helm's entry uses beyond BUSYBOX_APPLETS (helm_update's
#: ``tr``, helm_content_decode's ``base64``)
KLIPPER_HELM_APPLETS = ("tr", "base64", "cut", "printf")

#: docker-library/busybox's image (what rancher/mirrored-library-busybox mirrors): the busybox
#: tree FROM scratch, ``CMD ["sh"]`` (its Dockerfile sets nothing else)
BUSYBOX_UPSTREAM: dict[str, Any] = {"base": "busybox", "config": {"Cmd": ["sh"]}}

#: the applets the busybox image links in /bin (k3s-root's busybox has them all; these are what
#: local-path-provisioner's helper pod scripts and `sh -c` users need)
BUSYBOX_APPLETS = (
    "sh", "ash", "cat", "lsmod", "mkfifo", "chmod", "chown", "cp", "echo", "env", "id", "ln", "ls", "mkdir",
    "mv", "rm", "rmdir", "sleep", "test", "[", "true", "false", "du", "find", "grep", "sed",
    "tar", "touch", "wc", "uname", "date", "head", "tail", "stat", "dirname", "basename",
)  # fmt: skip


def context(comps: Mapping[str, Component]) -> dict[str, Any]:
    """The images the spec writes: reference, payload package and its macro, upstream config."""
    from emtk3s.packages.k3s_addon_images import dockerfile
    from emtk3s.packages.k3s_addon_images import images as build

    listed = comps["k3s-images"].facts["images"]
    out: list[dict[str, Any]] = []
    missing: list[str] = []
    for name, image in sorted(listed.items()):
        if name not in PAYLOADS:
            missing.append(image["_reference"])
            continue
        pkg, comp_name, macro = PAYLOADS[name]
        comp = comps.get(comp_name)
        if comp is None:
            raise InputError(f"k3s-addon-images: {pkg} is not in the lock", f"add {pkg} to release.toml packages")  # fmt: skip
        parts = []
        for part_pkg, part_comp, part_macro, part_dir in PARTS.get(name, ()):
            have = comps.get(part_comp)
            if have is None:
                raise InputError(f"k3s-addon-images: {part_pkg} is not in the lock", f"add {part_pkg} to release.toml packages")  # fmt: skip
            parts.append({"package": part_pkg, "macro": part_macro, "dir": part_dir,
                          "_source": f"{have.repo} {have.tag} ({have.commit})"})  # fmt: skip
        if name == "pause" and comp.facts["pause_tag"] != image["tag"]:
            raise InputError(
                f"{comp.repo} {comp.tag}: build/pause/Makefile releases pause "
                f"{comp.facts['pause_tag']}, the image list names {image['tag']}",
                "fix PAUSE_RELEASES or set [overrides] kubernetes-pause",
            )
        # per architecture: a Dockerfile may set arch-dependent values (ENV ARCH ...)
        upstream = {
            a: BUSYBOX_UPSTREAM
            if name == "busybox"
            else dockerfile.from_facts(comp.facts["image"], a)
            for a in GOARCHES
        }
        try:  # an unknown base or Alpine package is an error here, naming it
            build.base_kind(str(upstream[GOARCHES[0]].get("base", "")))
            programs = build.userland_programs(list(upstream[GOARCHES[0]].get("userland", [])))
            host = build.host_programs(list(upstream[GOARCHES[0]].get("userland", [])))
        except ValueError as exc:
            raise InputError(f"{comp.repo} {comp.tag}: {exc}", "extend images.py") from None
        prebuilt = list(upstream[GOARCHES[0]].get("prebuilt", []))
        if prebuilt and name not in BUILDS_PREBUILT:
            raise InputError(
                f"{comp.repo} {comp.tag}: {comp.facts.get('dockerfile')} downloads a prebuilt "
                f"{prebuilt[0]['path']} ({prebuilt[0]['url']}), which emtk3s does not build",
                "build that program from source in the image's payload package (BUILDS_PREBUILT)",
            )
        # the download's URL stays in the lock (it names the shell's variables as <name>)
        upstream = {a: {k: v for k, v in u.items() if k != "prebuilt"} for a, u in upstream.items()}
        source = f"{comp.repo} {comp.tag} ({comp.commit})"
        if name in PROGRAM_COMPONENT:
            prog = comps.get(PROGRAM_COMPONENT[name])
            if prog is None:
                raise InputError(f"k3s-addon-images: {pkg}'s {PROGRAM_COMPONENT[name]} is not in the lock", "re-resolve")  # fmt: skip
            source = f"{source}, the program from {prog.repo} {prog.tag} ({prog.commit})"
        out.append(
            {
                "name": name,
                "reference": image["_reference"],
                "file": image["_reference"].rsplit("/", 1)[1].replace(":", "_"),
                "package": pkg,
                "payload_files": list(PAYLOAD_FILE.get(name, ())),
                "userland": programs,
                "host_programs": [f"{h}={i}" for h, i in host.items()],
                "host_names": [h.rsplit("/", 1)[1] for h in host],
                "parts": parts,
                "host_data": build.host_data(list(upstream[GOARCHES[0]].get("userland", []))),
                "prebuilt": [str(d["path"]) for d in prebuilt],  # (its URL is in the lock)
                "_note": NOTES.get(name, ""),
                "macro": macro,
                "upstream": upstream,
                "_source": source,
                "dockerfile": comp.facts.get("dockerfile", "docker-library/busybox"),
            }
        )
    created = comps["k3s-images"].commit_time or 0
    for image in out:
        image["descriptions"] = {a: description(image, a, created) for a in GOARCHES}
    userland = sorted({p for image in out for p in image["userland"]})
    host_data = sorted({p for image in out for p in image["host_data"]})
    requires = {image["package"] for image in out} | {
        part["package"] for image in out for part in image["parts"]
    }
    requires |= {h.split("=", 1)[0].rsplit("/", 1)[1] for i in out for h in i["host_programs"]}
    return {"addon_images": out, "addon_images_missing": missing, "addon_userland": userland,
            "addon_host_data": host_data, "addon_build_requires": sorted(requires),
            "busybox_applets": list(BUSYBOX_APPLETS)}  # fmt: skip


#: where %build puts each image's payload (links to the payload RPMs' files, the unpacked
#: k3s-root tree, the CA bundle): the descriptions name files relative to the build directory
PAYLOAD_FILES = {
    "pause": "payload/pause/pause",
    "coredns": "payload/coredns/coredns",
    "ca": "payload/ca-bundle.crt",
    "busybox": "k3s-root/bin/busybox",
    "aux": "k3s-root/bin/aux",
    "klipper-lb": "payload/klipper-lb/entry",
    "klipper-helm": "payload/klipper-helm/entry",
    "helm": "payload/helm/helm",
    "helm-set-status": "payload/helm-set-status",
    "helm-mapkubeapis": "payload/helm-mapkubeapis",
    "klipper-helm-userland": "payload/klipper-helm-userland",
    "metrics-server": "payload/metrics-server/metrics-server",
    "local-path-provisioner": "payload/local-path-provisioner/local-path-provisioner",
    "traefik": "payload/traefik/traefik",
    "traefik-entrypoint": "payload/traefik/entrypoint.sh",
    "zoneinfo": "payload/zoneinfo",
}
GOARCHES = ("amd64", "arm64")


def description(image: dict[str, Any], arch: str, created: int) -> dict[str, Any]:
    """One image's writer description for ``arch`` (payload paths from PAYLOAD_FILES)."""
    from emtk3s.packages.k3s_addon_images import images as build

    name = image["name"]
    if name == "pause":
        payload = build.pause_payload(PAYLOAD_FILES["pause"])
    elif name == "coredns":
        payload = build.coredns_payload(PAYLOAD_FILES["coredns"], PAYLOAD_FILES["ca"])
    elif name == "klipper-lb":
        payload = build.klipper_lb_payload(
            PAYLOAD_FILES["klipper-lb"],
            PAYLOAD_FILES["busybox"],
            PAYLOAD_FILES["aux"],
            build.userland_programs(image["upstream"][arch].get("userland", [])),
            list(BUSYBOX_APPLETS),
        )
    elif name == "klipper-helm":  # upstream: Alpine + bash, jq, ca-certificates; ours: no Alpine
        user = image["upstream"][arch]["users"][0]
        payload = build.klipper_helm_payload(
            PAYLOAD_FILES["klipper-helm"],
            PAYLOAD_FILES["helm"],
            {p: PAYLOAD_FILES[p] for p in ("helm-set-status", "helm-mapkubeapis")},
            PAYLOAD_FILES["busybox"],
            sorted(set(BUSYBOX_APPLETS) | set(KLIPPER_HELM_APPLETS)),
            PAYLOAD_FILES["klipper-helm-userland"],
            user["home"],
            int(user["uid"]),
        )
    elif name == "metrics-server":
        payload = build.binary_payload("metrics-server", PAYLOAD_FILES["metrics-server"])
    elif name == "local-path-provisioner":  # upstream: Alpine; ours: k3s-root's busybox
        payload = build.busybox_payload(PAYLOAD_FILES["busybox"], list(BUSYBOX_APPLETS))
        payload += build.binary_payload(
            "usr/bin/local-path-provisioner", PAYLOAD_FILES["local-path-provisioner"]
        )
    elif name == "traefik":  # upstream: Alpine + a prebuilt traefik; ours: built from source
        try:
            payload = build.traefik_payload(
                PAYLOAD_FILES["traefik"],
                PAYLOAD_FILES["traefik-entrypoint"],
                PAYLOAD_FILES["busybox"],
                list(BUSYBOX_APPLETS),
                PAYLOAD_FILES["ca"],
                PAYLOAD_FILES["zoneinfo"],
                image["prebuilt"],
            )
        except ValueError as exc:
            raise InputError(f"{image['reference']}: {exc}", "extend images.py") from None
    else:
        payload = build.busybox_payload(PAYLOAD_FILES["busybox"], list(BUSYBOX_APPLETS))
    return build.description(
        image["reference"], arch, created, image["upstream"][arch], payload, PAYLOAD_FILES["ca"]
    )


COMPONENTS = (ComponentDef("k3s-images", "k3s-io/k3s", tag=_k3s_tag, facts=_images),)

PACKAGE = PackageDef(
    name="k3s-addon-images",
    component="k3s-images",
    components=(
        "kubernetes-pause",
        "coredns",
        "klipper-lb",
        "klipper-helm",
        "helm",
        "helm-set-status",
        "helm-mapkubeapis",
        "metrics-server",
        "local-path-provisioner",
        "traefik",
        "traefik-library-image",
        "k3s-root",
    ),
    summary="K3s addon container images built from source, imported at start with no registry",
    context=context,
    on_image=True,
    writes_images=True,  # emtk3s pin-images pins its archives' manifest digests
    chain_deps={
        "k3s-addon-pause": ("addon_pause_root", ""),
        "k3s-addon-coredns": ("addon_coredns_root", ""),
        "k3s-addon-klipper-lb": ("addon_klipper_lb_root", ""),
        "k3s-addon-klipper-helm": ("addon_klipper_helm_root", ""),
        "k3s-addon-helm": ("addon_helm_root", ""),
        "k3s-addon-helm-set-status": ("addon_helm_set_status_root", ""),
        "k3s-addon-helm-mapkubeapis": ("addon_helm_mapkubeapis_root", ""),
        "k3s-addon-metrics-server": ("addon_metrics_server_root", ""),
        "k3s-addon-local-path-provisioner": ("addon_local_path_provisioner_root", ""),
        "k3s-addon-traefik": ("addon_traefik_root", ""),
    },
    sources=(
        SourceRule(
            "k3s-addon-images-ociarchive.py",
            "github",
            "generated:emtk3s-ociarchive",
            generate=_writer,
            key="writer",
        ),
        SourceRule(
            "k3s-addon-images-elfclosure.py",
            "github",
            "generated:emtk3s-elfclosure",
            generate=_elfclosure,
            key="elfclosure",
        ),
    ),
)
