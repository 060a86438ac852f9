"""Facts from a k3s-root tag's own files (no script is run): the buildroot version its
scripts/download pins, the container file its era uses, the per-arch configs, its own package overrides (package/<name>/<name>.mk) and its patches."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from emtk3s.infra import checks
from emtk3s.infra.errors import InputError

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout

_BR_VERSION = re.compile(r"""^\s*:\s*"\$\{BUILDROOT_VERSION:=(?P<v>[^}"]+)\}"\s*$""")
#: upstream files the spec replaces with a step of its own, and the sha256 of each version that
#: replacement was reviewed against: a tag that changes one stops resolve, naming the file.
#: 0100-package-linux-headers-install.patch copies kernel headers into the build host's
#: /usr/include (needs root, changes the build machine); the spec's
#: k3s-root-linux-headers-in-build-tree.patch puts them in buildroot's host dir instead.
REPLACED = {
    "patches/0100-package-linux-headers-install.patch": {
        # identical at v0.14.1, v0.15.0 and v0.15.2
        "fc08775e9308286bd6852d69fada2fcc9466aa0cdb28d7788c283e6aa340b167",
    },
}
ARCH_CONFIGS = {"x86_64": "buildroot/amd64config", "aarch64": "buildroot/arm64config"}


def parse_buildroot_version(text: str, where: str) -> str:
    for lineno, line in enumerate(text.splitlines(), start=1):
        m = _BR_VERSION.match(line)
        if m:
            try:
                return checks.tag(m.group("v"), "BUILDROOT_VERSION")
            except InputError as exc:
                raise InputError(f"{where}:{lineno}: {exc.message}", exc.hint) from None
    raise InputError(
        f"{where}: no BUILDROOT_VERSION default found", "set [overrides] buildroot in release.toml"
    )


_MK_ASSIGN = re.compile(r"^(?P<var>[A-Z0-9_]+)\s*:?=\s*(?P<val>\S+)\s*$")
_MK_REF = re.compile(r"\$\((?P<var>[A-Z0-9_]+)\)")


def mk_version(text: str, pkg: str) -> str | None:
    """``<PKG>_VERSION`` of a buildroot .mk file, with $(VAR) references to plain assignments
    of the same file expanded (e.g. ``$(UTIL_LINUX_VERSION_MAJOR).1``); None if not static."""
    assigns = {
        m.group("var"): m.group("val") for m in map(_MK_ASSIGN.match, text.splitlines()) if m
    }
    value = assigns.get(pkg.upper().replace("-", "_") + "_VERSION")
    for _ in range(5):
        if value is None or "$(" not in value:
            break
        value = _MK_REF.sub(lambda m: assigns.get(m.group("var"), m.group(0)), value)
    return None if value is None or "$" in value else value


def replaced_files(co: TagCheckout) -> list[dict[str, str]]:
    out = []
    for path, reviewed in sorted(REPLACED.items()):
        if not co.exists(path):
            continue
        sha = hashlib.sha256(co.read(path)).hexdigest()
        if sha not in reviewed:
            raise InputError(
                f"k3s-root {co.info.tag}: {path} changed (sha256 {sha}); the k3s-root spec "
                "replaces it with a step reviewed against an earlier version",
                "review the new file against the spec's replacement, then add its sha256 to "
                "REPLACED in emtk3s/packages/k3s_root/upstream.py",
            )
        out.append({"path": path, "sha256": sha})
    return out


def read_facts(co: TagCheckout) -> dict[str, Any]:
    tag = co.info.tag
    facts: dict[str, Any] = {
        "buildroot_version": parse_buildroot_version(
            co.read("scripts/download").decode("utf-8", "replace"), f"{tag}:scripts/download"
        ),
        "container_file": "Dockerfile.dapper" if co.exists("Dockerfile.dapper") else "Dockerfile",
        "arch_configs": {a: p for a, p in ARCH_CONFIGS.items() if co.exists(p)},
    }
    # (which packages the configs build is buildroot's to say: the buildroot component's
    # show-info facts, not a guess from BR2_PACKAGE_* symbols here)
    overrides: dict[str, str] = {}
    for path in co.list_dir("package"):
        parts = path.split("/")
        if len(parts) == 3 and parts[2] == f"{parts[1]}.mk":
            v = mk_version(co.read(path).decode(), parts[1])
            if v:
                overrides[parts[1]] = checks.tag(v, f"{path} version")
    facts["overlay_versions"] = overrides
    facts["replaced"] = replaced_files(co)
    facts["patches"] = [p.split("/", 1)[1] for p in co.list_dir("patches") if p.endswith(".patch")]
    return facts
