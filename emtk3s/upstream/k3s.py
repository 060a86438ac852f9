"""Facts from a K3s tag's own files: ``scripts/version.sh`` (hard-coded VERSION_* values)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .. import validate
from ..errors import InputError

if TYPE_CHECKING:
    from ..fetch.git import TagCheckout

# VERSION_ROOT="v0.14.1"   VERSION_ROOT=v0.14.1   VERSION_ROOT=${VERSION_ROOT:-"v0.14.1"}
_ASSIGN = re.compile(
    r"""^\s*(?:export\s+)?(?P<name>VERSION_[A-Z0-9_]+|K3S_ROOT_SHA256_[A-Za-z0-9_]+)="""
    r"""(?:\$\{(?P=name):?-(?P<q1>["']?)(?P<dflt>[^"'}$`\s]*)(?P=q1)\}"""
    r"""|(?P<q2>["']?)(?P<val>[^"'$`\s;]*)(?P=q2))\s*(?:#.*)?$"""
)

#: The values a build of this toolkit needs from version.sh.
REQUIRED = ("VERSION_ROOT",)


def parse_version_sh(text: str, where: str = "scripts/version.sh") -> dict[str, str]:
    """Hard-coded assignments only; values computed by commands (``$(go list ...)``) are skipped.

    Each value is validated as a tag; a malformed one is an error naming the file and line.
    """
    found: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        m = _ASSIGN.match(line)
        if not m:
            continue
        value = m.group("dflt") if m.group("dflt") is not None else m.group("val")
        if not value:
            continue
        name = m.group("name")
        try:
            validate.tag(value, name)
        except InputError as exc:
            raise InputError(f"{where}:{lineno}: {exc.message}", exc.hint) from None
        found.setdefault(name, value)
    return found


def require(facts: dict[str, str], names: tuple[str, ...], where: str) -> None:
    for name in names:
        if name not in facts:
            raise InputError(
                f"{where}: no hard-coded {name}",
                "this K3s era is not understood; set it in release.toml (e.g. k3s_root)",
            )


def read_facts(checkout: TagCheckout) -> dict[str, Any]:
    """Everything resolve learns from a K3s tag's files (version.sh's hard-coded values)."""
    where = f"{checkout.info.tag}:scripts/version.sh"
    text = checkout.read("scripts/version.sh").decode("utf-8", "replace")
    facts: dict[str, Any] = dict(parse_version_sh(text, where))
    return facts
