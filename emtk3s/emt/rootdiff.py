"""root-diff: k3s-root's binaries against EMT's SPECS (and a toolchain chroot): which EMT already
ships, at which version, and what needs doing. Versions of k3s-root's side come from the lock
(the buildroot tag k3s-root pins, with k3s-root's own overrides winning)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emtk3s.model.lock import Lock

# (path in k3s-root's tree, buildroot package, kind): from k3s-root's scripts/package layout
BINARIES: tuple[tuple[str, str, str], ...] = (
    ("bin/busybox", "busybox", "direct"),
    ("bin/coreutils", "coreutils", "direct"),
    ("bin/conntrack", "conntrack-tools", "direct"),
    ("bin/ethtool", "ethtool", "direct"),
    ("bin/ipset", "ipset", "direct"),
    ("bin/find", "findutils", "direct"),
    ("bin/xargs", "findutils", "direct"),
    ("bin/fuse-overlayfs", "fuse-overlayfs", "direct"),
    ("bin/nsenter", "util-linux", "direct"),
    ("bin/blkid", "util-linux", "direct"),
    ("bin/losetup", "util-linux", "direct"),
    ("bin/pigz", "pigz", "direct"),
    ("bin/unpigz", "pigz", "link"),
    ("bin/slirp4netns", "slirp4netns", "direct"),
    ("bin/ip", "iproute2", "direct"),
    ("bin/aux/nft", "nftables", "direct"),
    ("bin/aux/mount", "busybox", "link"),
    ("bin/aux/modprobe", "busybox", "link"),
    ("bin/aux/xtables-legacy-multi", "iptables", "direct"),
    ("bin/aux/xtables-nft-multi", "iptables", "direct"),
    ("bin/aux/iptables-legacy", "iptables", "link"),
    ("bin/aux/iptables-nft", "iptables", "link"),
    ("bin/aux/ebtables-legacy", "ebtables", "direct"),
    ("bin/aux/iptables-detect.sh", "k3s-root", "direct"),
    ("bin/aux/xtables-set-mode.sh", "k3s-root", "direct"),
    *(
        (f"bin/aux/{c}", "k3s-root", "link")
        for c in (
            "iptables",
            "iptables-save",
            "iptables-restore",
            "ip6tables",
            "ip6tables-save",
            "ip6tables-restore",
        )
    ),
)

#: buildroot package -> EMT / Azure Linux spec name
EMT_NAMES = {"iproute2": "iproute", "k3s-root": "k3s-iptables-helpers"}


@dataclass
class Row:
    binary: str
    package: str
    kind: str
    in_chroot: bool | None
    spec: str  # EMT spec path relative to the checkout, "" if none
    emt_version: str
    k3s_root_version: str
    action: str

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _spec_version(spec: Path) -> str:
    try:
        import rpm

        from emtk3s.builders.graph import _load_macros

        _load_macros()
        return str(rpm.spec(str(spec)).sourceHeader[rpm.RPMTAG_VERSION])
    except Exception:  # a spec our macros cannot parse: read the tag as written
        m = re.search(r"^Version:\s*(\S+)", spec.read_text(errors="replace"), re.M)
        return m.group(1) if m else "?"


def _find_spec(emt: Path, name: str) -> Path | None:
    for base in ("SPECS", "SPECS-EXTENDED"):
        p = emt / base / name / f"{name}.spec"
        if p.is_file():
            return p
    return None


def _in_chroot(chroot: Path, binary: str) -> bool:
    name = binary.rsplit("/", 1)[-1]
    return any(
        (chroot / d / name).exists() or (chroot / d / name).is_symlink()
        for d in ("usr/bin", "usr/sbin", "bin", "sbin")
    )


def root_diff(lock: Lock, emt: Path, chroot: Path | None = None) -> dict[str, Any]:
    import rpm

    br = lock.components.get("buildroot")
    root = lock.components.get("k3s-root")
    versions: dict[str, str] = dict(br.facts.get("packages", {})) if br else {}
    if root:
        versions.update(root.facts.get("overlay_versions", {}))
        versions["k3s-root"] = root.tag.removeprefix("v")
    rows = []
    spec_cache: dict[str, tuple[str, str]] = {}
    for binary, pkg, kind in BINARIES:
        emt_name = EMT_NAMES.get(pkg, pkg)
        if emt_name not in spec_cache:
            spec = _find_spec(emt, emt_name)
            spec_cache[emt_name] = (
                (str(spec.relative_to(emt)), _spec_version(spec)) if spec else ("", "")
            )
        spec_rel, emt_v = spec_cache[emt_name]
        ours = versions.get(pkg, "unknown")
        if not spec_rel:
            action = "new RPM needed"
        elif ours == "unknown" or emt_v in ("", "?"):
            action = "check by hand"
        else:
            cmp = rpm.labelCompare(("0", emt_v, "1"), ("0", ours, "1"))
            action = (
                "none (EMT same)"
                if cmp == 0
                else "none (EMT newer)"
                if cmp > 0
                else "EMT older: update"
            )
        rows.append(
            Row(
                binary,
                pkg,
                kind,
                _in_chroot(chroot, binary) if chroot else None,
                spec_rel,
                emt_v,
                ours,
                action,
            )
        )
    counts = {
        "total": len(rows),
        "direct": sum(r.kind == "direct" for r in rows),
        "links": sum(r.kind == "link" for r in rows),
        "overlapped": sum(bool(r.spec) or bool(r.in_chroot) for r in rows),
        "missing": sum(not r.spec and not r.in_chroot for r in rows),
    }
    return {
        "k3s_root": root.tag if root else None,
        "buildroot": br.tag if br else None,
        "counts": counts,
        "binaries": [r.to_dict() for r in rows],
    }


def markdown(report: dict[str, Any]) -> str:
    c = report["counts"]
    out = [
        f"# k3s-root {report['k3s_root']} (buildroot {report['buildroot']}) against EMT",
        "",
        "| total | direct | links | overlapped | missing |",
        "|---|---|---|---|---|",
        f"| {c['total']} | {c['direct']} | {c['links']} | {c['overlapped']} | {c['missing']} |",
        "",
        "| binary | package | kind | in chroot | spec present | EMT version | k3s-root version | action needed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in report["binaries"]:
        chroot = "-" if r["in_chroot"] is None else ("yes" if r["in_chroot"] else "no")
        out.append(
            f"| {r['binary']} | {r['package']} | {r['kind']} | {chroot} | {r['spec'] or 'no'} | "
            f"{r['emt_version'] or '-'} | {r['k3s_root_version']} | {r['action']} |"
        )
    return "\n".join(out) + "\n"
