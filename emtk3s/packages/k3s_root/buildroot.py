"""Facts from a buildroot tag: the version each package of interest pins (package/<n>/<n>.mk)
and the sha256 buildroot records for its download (package/<n>/<n>.hash)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from emtk3s.infra import checks as validate
from emtk3s.packages.k3s_root.upstream import mk_version

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout

#: The packages k3s-root builds (issue 3) and their libraries; read when present.
PACKAGES = (
    "busybox",
    "coreutils",
    "findutils",
    "util-linux",
    "iproute2",
    "iptables",
    "nftables",
    "ipset",
    "ebtables",
    "ethtool",
    "conntrack-tools",
    "pigz",
    "fuse-overlayfs",
    "slirp4netns",
    "libseccomp",
    "libcap",
    "libfuse3",
    "slirp",
    "libglib2",
    "libnftnl",
    "libmnl",
    "libnetfilter-conntrack",
)
_HASH = re.compile(r"^sha256\s+(?P<sha>[0-9a-f]{64})\s+(?P<file>\S+)\s*$")


def read_facts(co: TagCheckout) -> dict[str, Any]:
    versions: dict[str, str] = {}
    hashes: dict[str, str] = {}
    for pkg in PACKAGES:
        mk = f"package/{pkg}/{pkg}.mk"
        if not co.exists(mk):
            continue
        v = mk_version(co.read(mk).decode("utf-8", "replace"), pkg)
        if v:
            versions[pkg] = validate.tag(v, f"{co.info.tag}:{mk} version")
        hfile = f"package/{pkg}/{pkg}.hash"
        if co.exists(hfile):
            for line in co.read(hfile).decode("utf-8", "replace").splitlines():
                m = _HASH.match(line)
                # downloads are plain file names; entries with a path are license files
                if m and "/" not in m.group("file"):
                    hashes[validate.file_name(m.group("file"), f"{hfile} entry")] = m.group("sha")
    return {"packages": versions, "hashes": hashes}
