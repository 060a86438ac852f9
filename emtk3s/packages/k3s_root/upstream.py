"""Facts from a k3s-root tag's own files (no script is run): the buildroot version its
scripts/download pins, the container file its era uses, the per-arch configs, the packages its
configs enable, its own package overrides (package/<name>/<name>.mk) and its patches."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from emtk3s.infra import checks as validate
from emtk3s.infra.errors import InputError

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout

_BR_VERSION = re.compile(r"""^\s*:\s*"\$\{BUILDROOT_VERSION:=(?P<v>[^}"]+)\}"\s*$""")
_ENABLED = re.compile(r"^BR2_PACKAGE_(?P<sym>[A-Z0-9_]+)=y\s*$")
ARCH_CONFIGS = {"x86_64": "buildroot/amd64config", "aarch64": "buildroot/arm64config"}


def parse_buildroot_version(text: str, where: str) -> str:
    for lineno, line in enumerate(text.splitlines(), start=1):
        m = _BR_VERSION.match(line)
        if m:
            try:
                return validate.tag(m.group("v"), "BUILDROOT_VERSION")
            except InputError as exc:
                raise InputError(f"{where}:{lineno}: {exc.message}", exc.hint) from None
    raise InputError(
        f"{where}: no BUILDROOT_VERSION default found", "set [overrides] buildroot in release.toml"
    )


def enabled_packages(*configs: str) -> list[str]:
    """Buildroot package directory names for every BR2_PACKAGE_X=y (X lower-cased, _ -> -)."""
    names = set()
    for text in configs:
        for line in text.splitlines():
            m = _ENABLED.match(line)
            if m:
                name = m.group("sym").lower().replace("_", "-")
                # capability symbols of a full .config (…-arch-supports, has-…, host-…) are not packages
                if not (name.endswith("supports") or name.startswith(("has-", "host-"))):
                    names.add(name)
    return sorted(names)


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


def read_facts(co: TagCheckout) -> dict[str, Any]:
    tag = co.info.tag
    facts: dict[str, Any] = {
        "buildroot_version": parse_buildroot_version(
            co.read("scripts/download").decode("utf-8", "replace"), f"{tag}:scripts/download"
        ),
        "container_file": "Dockerfile.dapper" if co.exists("Dockerfile.dapper") else "Dockerfile",
        "arch_configs": {a: p for a, p in ARCH_CONFIGS.items() if co.exists(p)},
    }
    configs = [co.read("buildroot/config").decode()] if co.exists("buildroot/config") else []
    configs += [co.read(p).decode() for p in facts["arch_configs"].values()]
    facts["enabled"] = enabled_packages(*configs)
    overrides: dict[str, str] = {}
    for path in co.list_dir("package"):
        parts = path.split("/")
        if len(parts) == 3 and parts[2] == f"{parts[1]}.mk":
            v = mk_version(co.read(path).decode(), parts[1])
            if v:
                overrides[parts[1]] = validate.tag(v, f"{path} version")
    facts["overlay_versions"] = overrides
    facts["patches"] = [p.split("/", 1)[1] for p in co.list_dir("patches") if p.endswith(".patch")]
    return facts
