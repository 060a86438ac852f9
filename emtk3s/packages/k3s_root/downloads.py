"""Every buildroot download as its own Source of k3s-root: the list buildroot's show-info gives
for k3s-root's configuration (resolve computes it offline, see showinfo.py), each with its
primary upstream URL in the spec and fetched over TLS from buildroot's backup mirror
(sources.buildroot.net; users point the ``buildroot`` mirror elsewhere).

Transport: several primary sites are plain http (savannah, netfilter,
ftpmirror.gnu.org). The spec shows them as upstream publishes them, but emtk3s never fetches over
plain http: every file comes from the https backup, and every file buildroot pins by hash is
checked against that hash (sha256; sha512 where that is all buildroot records, the sha256 then
recorded once verified). A download buildroot does not pin is pinned by its first TLS fetch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from emtk3s.model.package import ListedSource

if TYPE_CHECKING:
    from emtk3s.model.lock import Component

MIRROR = "buildroot"


def listed(components: dict[str, Component]) -> list[ListedSource]:
    br, root = components.get("buildroot"), components.get("k3s-root")
    if br is None or root is None:
        return []
    prefix = local_prefix(root.tag)
    out = []
    for d in br.facts.get("downloads", []):
        out.append(
            ListedSource(
                name=prefix + d["name"],
                mirror=MIRROR,
                # buildroot's backup layout: /<download dir>/<urlencoded name>
                path=f"/{d['dl_dir']}/{quote(d['_file'], safe='+~')}",
                url=d["_url"],
                sha256=d.get("sha256"),
                sha512=d.get("sha512"),
                origin=_origin(d),
            )
        )
    return out


def local_prefix(k3s_root_tag: str) -> str:
    """Each download's name beside the spec is namespaced with k3s-root and its version: EMT's
    source server keys by basename, and fuse-overlayfs-1.11.tar.gz or acl-2.3.2.tar.xz are
    Sources of other specs too (the spec's %prep puts each back under buildroot's own name)."""
    return f"k3s-root-{k3s_root_tag.removeprefix('v')}-"


def _origin(d: dict[str, Any]) -> str:
    """(the hash file itself is in the buildroot facts' ``hash_file``)"""
    if d.get("sha256"):
        return "buildroot-sha256"
    if d.get("sha512"):
        return "buildroot-sha512"
    return ""
