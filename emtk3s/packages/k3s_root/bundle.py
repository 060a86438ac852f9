"""What k3s-root's tree bundles, for `emtk3s root-diff`: each binary, the buildroot package it
comes from, and the versions k3s-root builds (the buildroot tag it pins, its own overlay
winning). The layout follows k3s-root's scripts/package."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from emtk3s.model.package import Bundle, Bundled

if TYPE_CHECKING:
    from emtk3s.model.lock import Component

_XTABLES_LINKS = (
    "iptables",
    "iptables-save",
    "iptables-restore",
    "ip6tables",
    "ip6tables-save",
    "ip6tables-restore",
)

BINARIES: tuple[Bundled, ...] = (
    Bundled("bin/busybox", "busybox", "direct"),
    Bundled("bin/coreutils", "coreutils", "direct"),
    Bundled("bin/conntrack", "conntrack-tools", "direct"),
    Bundled("bin/ethtool", "ethtool", "direct"),
    Bundled("bin/ipset", "ipset", "direct"),
    Bundled("bin/find", "findutils", "direct"),
    Bundled("bin/xargs", "findutils", "direct"),
    Bundled("bin/fuse-overlayfs", "fuse-overlayfs", "direct"),
    Bundled("bin/nsenter", "util-linux", "direct"),
    Bundled("bin/blkid", "util-linux", "direct"),
    Bundled("bin/losetup", "util-linux", "direct"),
    Bundled("bin/pigz", "pigz", "direct"),
    Bundled("bin/unpigz", "pigz", "link"),
    Bundled("bin/slirp4netns", "slirp4netns", "direct"),
    Bundled("bin/ip", "iproute2", "direct"),
    Bundled("bin/aux/nft", "nftables", "direct"),
    Bundled("bin/aux/mount", "busybox", "link"),
    Bundled("bin/aux/modprobe", "busybox", "link"),
    Bundled("bin/aux/xtables-legacy-multi", "iptables", "direct"),
    Bundled("bin/aux/xtables-nft-multi", "iptables", "direct"),
    Bundled("bin/aux/iptables-legacy", "iptables", "link"),
    Bundled("bin/aux/iptables-nft", "iptables", "link"),
    Bundled("bin/aux/ebtables-legacy", "ebtables", "direct"),
    Bundled("bin/aux/iptables-detect.sh", "k3s-root", "direct"),
    Bundled("bin/aux/xtables-set-mode.sh", "k3s-root", "direct"),
    *(Bundled(f"bin/aux/{c}", "k3s-root", "link") for c in _XTABLES_LINKS),
)


def _versions(comps: Mapping[str, Component]) -> dict[str, str]:
    br, root = comps.get("buildroot"), comps.get("k3s-root")
    versions: dict[str, str] = dict(br.facts.get("packages", {})) if br else {}
    if root:
        versions.update(root.facts.get("overlay_versions", {}))
        versions["k3s-root"] = root.tag.removeprefix("v")
    return versions


def _header(comps: Mapping[str, Component]) -> dict[str, str | None]:
    br, root = comps.get("buildroot"), comps.get("k3s-root")
    return {"k3s_root": root.tag if root else None, "buildroot": br.tag if br else None}


BUNDLE = Bundle(
    key="k3s_root",
    binaries=BINARIES,
    # buildroot package -> EMT / Azure Linux spec name
    emt_names={"iproute2": "iproute", "k3s-root": "k3s-iptables-helpers"},
    versions=_versions,
    header=_header,
    title="k3s-root {k3s_root} (buildroot {buildroot})",
)
