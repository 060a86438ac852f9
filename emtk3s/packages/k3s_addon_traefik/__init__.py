"""traefik for K3s' ingress image (rancher/mirrored-library-traefik, a mirror of Docker's
official ``traefik`` image), built in Go from traefik/traefik at the tag the K3s tag's image list
names, with a Go vendor tarball made by emtk3s, as upstream's release build does
(``CGO_ENABLED=0``, ``-trimpath``, ``-ldflags "-s -w -X .../pkg/version.Version=<version>
-X ...Codename=<codename> -X ...BuildDate=<date>"``; the build date is the tag's commit time).

Upstream's image is built by traefik/traefik-library-image: its Dockerfile (``FROM alpine``,
``apk add ca-certificates tzdata``, a download of the *prebuilt* release binary into
/usr/local/bin, ``COPY entrypoint.sh /``, ``ENTRYPOINT ["/entrypoint.sh"]``, ``CMD
["traefik"]``) gives the image config; its entrypoint.sh at that tag is a pinned git blob
source. **Without the dashboard's web assets**: they need a Node build; traefik embeds
``webui/static`` with go:embed, which the tag's tree leaves empty, so %prep writes one page there
saying the dashboard is not built. Installed under a private prefix."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from emtk3s.infra.errors import InputError
from emtk3s.model.package import ComponentDef, ListedSource
from emtk3s.packages.k3s_addon_images.payload import dockerfile_facts, go_payload, image_tag

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout
    from emtk3s.model.lock import Component

LIBRARY = "traefik-library-image"
_MODULE = re.compile(r"^module\s+(?P<m>\S+)\s*$", re.M)
_MODULE_OK = re.compile(r"github\.com/traefik/traefik(?:/v[0-9]+)?")
#: the codename the release build stamps: CODENAME in .github/workflows/release.yaml (v3), or
#: the CODENAME environment variable of .semaphore/semaphore.yml (v2)
_CODENAME_GHA = re.compile(r"^\s*CODENAME:\s*[\"']?(?P<c>[a-z0-9]+)[\"']?\s*$", re.M)
_CODENAME_SEMAPHORE = re.compile(
    r"name:\s*CODENAME\s*\n\s*value:\s*[\"']?(?P<c>[a-z0-9]+)[\"']?\s*$", re.M
)
_CODENAME_FILES = (
    (".github/workflows/release.yaml", _CODENAME_GHA),
    (".semaphore/semaphore.yml", _CODENAME_SEMAPHORE),
)
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _build_facts(checkout: TagCheckout) -> dict[str, Any]:
    """The Go module path (the -X prefix) and the release codename, from the tag's files."""
    where = f"traefik/traefik {checkout.info.tag}"
    m = _MODULE.search(checkout.read("go.mod").decode("utf-8", "replace"))
    if m is None or not _MODULE_OK.fullmatch(m["m"]):
        raise InputError(f"{where}: go.mod names no traefik module", "report this traefik era")
    for path, pattern in _CODENAME_FILES:
        if checkout.exists(path):
            c = pattern.search(checkout.read(path).decode("utf-8", "replace"))
            if c is not None:
                return {"go_module": m["m"], "codename": c["c"]}
    raise InputError(
        f"{where}: no CODENAME in {' or '.join(p for p, _ in _CODENAME_FILES)}",
        "report this traefik era",
    )


def _library_dir(checkout: TagCheckout) -> str:
    """Where the library image's Alpine variant lives at this tag: ``v<major>.<minor>/alpine``
    (from 2.11 on, when it kept several lines), else ``alpine``."""
    version = checkout.info.tag.removeprefix("v").split(".")
    line = f"v{version[0]}.{version[1]}/alpine" if len(version) >= 2 else ""
    for d in (line, "alpine"):
        if d and checkout.exists(f"{d}/Dockerfile") and checkout.exists(f"{d}/entrypoint.sh"):
            return d
    raise InputError(
        f"traefik/{LIBRARY} {checkout.info.tag}: no alpine/Dockerfile with its entrypoint.sh",
        "report this traefik-library-image era",
    )


def _library_facts(checkout: TagCheckout) -> dict[str, Any]:
    """The image config of the library image's Dockerfile, and its entrypoint.sh's blob."""
    d = _library_dir(checkout)
    facts = dockerfile_facts(f"{d}/Dockerfile")(checkout)
    data = checkout.read(f"{d}/entrypoint.sh")
    facts.update({"entrypoint": f"{d}/entrypoint.sh",
                  "entrypoint_sha256": hashlib.sha256(data).hexdigest()})  # fmt: skip
    return facts


def _entrypoint(comps: dict[str, Component]) -> list[ListedSource]:
    """entrypoint.sh of the library image at its tag's commit, pinned by the blob's sha256."""
    lib = comps[LIBRARY]
    sha = str(lib.facts["entrypoint_sha256"])
    if not _SHA256.fullmatch(sha):
        raise InputError(f"the lock's {LIBRARY} entrypoint_sha256 is malformed", "re-resolve")
    version = comps["traefik"].tag.removeprefix("v")
    return [
        ListedSource(
            name=f"k3s-addon-traefik-{version}-entrypoint.sh",
            mirror="raw",
            path=f"/traefik/{LIBRARY}/{lib.commit}/{lib.facts['entrypoint']}",
            url="",
            sha256=sha,
            sha512=None,
            origin="git-blob",
        )
    ]


COMPONENTS, PACKAGE = go_payload(
    package="k3s-addon-traefik",
    component="traefik",
    repo="traefik/traefik",
    image="traefik",
    dockerfile=None,  # traefik's own Dockerfile is not the image K3s uses: the library image's
    summary="traefik for the K3s ingress image, built from source without the dashboard",
    archive_key="traefik",
    extra_facts=_build_facts,
    more_components=(
        ComponentDef(
            LIBRARY,
            f"traefik/{LIBRARY}",
            tag=image_tag("traefik"),
            facts=_library_facts,
            needs=("k3s-images",),
        ),
    ),
    listed=_entrypoint,
)
