"""Strict validation of every value that can reach a spec file, a URL or a command line.

Values are refused, never escaped: a spec is a macro language, so a ``%`` or a newline in a
version string could inject a scriptlet.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from emtk3s.infra.errors import InputError

# An upstream tag: starts with a letter or digit, then letters, digits and . + _ - only.
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,99}\Z")
# An RPM package name.
_PKG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]{0,99}\Z")
# A file name that may appear as a Source or Patch (no directories).
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]{0,199}\Z")
# A git commit (full sha1 or sha256 object name).
_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})\Z")
_SHA256 = re.compile(r"^[0-9a-f]{64}\Z")
# Characters allowed in a URL that reaches a spec: RFC 3986 unreserved + reserved, minus
# quotes, backslashes, spaces, ``%`` (would be a macro) and anything a shell would expand.
_URL_CHARS = re.compile(r"^[A-Za-z0-9._~:/?#\[\]@!&'()*+,;=-]+\Z")
_FREE_TEXT = re.compile(r"^[^\x00-\x1f\x7f%`$\\]{1,200}\Z")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def tag(value: str, what: str = "tag") -> str:
    if not isinstance(value, str) or not _TAG.fullmatch(value) or ".." in value:
        raise InputError(
            f"{what} {_show(value)} is not a valid tag",
            "use letters, digits and . + _ - only, e.g. v1.32.4+k3s1",
        )
    return value


def package_name(value: str) -> str:
    if not isinstance(value, str) or not _PKG.fullmatch(value):
        raise InputError(
            f"package name {_show(value)} is not valid", "use letters, digits and + . _ - only"
        )
    return value


def file_name(value: str, what: str = "file name") -> str:
    if not isinstance(value, str) or not _FILE.fullmatch(value) or ".." in value:
        raise InputError(
            f"{what} {_show(value)} is not a plain file name",
            "use letters, digits and + . _ - only, no directories",
        )
    return value


def commit(value: str) -> str:
    if not isinstance(value, str) or not _COMMIT.fullmatch(value):
        raise InputError(
            f"commit {_show(value)} is not a full git object name", "use 40 hex digits"
        )
    return value


def sha256(value: str, what: str = "sha256") -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise InputError(f"{what} {_show(value)} is not a sha256", "use 64 lowercase hex digits")
    return value


def is_sha256(value: object) -> bool:
    return isinstance(value, str) and bool(_SHA256.fullmatch(value))


def free_text(value: str, what: str) -> str:
    """One line of prose for a spec (a changelog author, a summary): no macros, no controls."""
    if not isinstance(value, str) or not _FREE_TEXT.fullmatch(value):
        raise InputError(
            f"{what} {_show(value)} is not allowed in a spec",
            "use one line without % ` $ \\ or control characters",
        )
    return value


@functools.lru_cache(maxsize=64)  # a lock names a few hosts, each for many sources
def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url(value: str, what: str = "URL", allow_http: bool = False, escapes: bool = False) -> str:
    """An http(s) URL: https always; plain http only for loopback or when allowed by name.
    ``escapes``: %XX escapes allowed (a download URL, never shown in a spec)."""
    bare = re.sub(r"%[0-9A-F]{2}", "-", value) if escapes and isinstance(value, str) else value
    if not isinstance(value, str) or not _URL_CHARS.fullmatch(bare):
        raise InputError(
            f"{what} {_show(value)} has characters not allowed in a URL",
            "remove spaces, quotes, % escapes and shell characters",
        )
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InputError(f"{what} {_show(value)} is not an http(s) URL", "use https://host/path")
    if parts.scheme == "http" and not (allow_http or is_loopback(parts.hostname)):
        raise InputError(
            f"{what} {_show(value)} uses plain http",
            "use https, or allow this mirror by name in release.toml [mirrors] allow_http",
        )
    if parts.username or parts.password:
        raise InputError(f"{what} {_show(value)} carries credentials", "use a credential helper")
    return value


def git_url(value: str, what: str = "git URL", allow_http: bool = False) -> str:
    """A git remote: https/http like :func:`url`, or file:// and absolute local paths."""
    if not isinstance(value, str) or not value or value.startswith("-"):
        raise InputError(f"{what} {_show(value)} is not allowed", "a git URL may not start with -")
    if "::" in value.split("/", 1)[0] or value.lower().startswith("ext:"):
        raise InputError(
            f"{what} {_show(value)} uses a git remote helper", "use https://, file:// or a path"
        )
    if value.startswith("file://") or value.startswith("/"):
        if not _URL_CHARS.fullmatch(value):
            raise InputError(f"{what} {_show(value)} has characters not allowed in a path", "")
        return value
    return url(value, what, allow_http=allow_http)


_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_:/=@-]{0,299}\Z")


def is_label(value: str) -> bool:
    """A generated source's label (e.g. generated:go-mod-vendor:<commit>)."""
    return isinstance(value, str) and bool(_LABEL.fullmatch(value)) and ".." not in value


# --- values read back from a lock file (hand-edited or hostile): the same strictness ---------

_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}/[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
# an RPM Version: no '-' (it separates Version and Release), no spaces, no macros
_RPM_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~^]{0,63}\Z")
# a path below a mirror base: leading '/', no '//' (a host), no '..', no '@' or ':' (userinfo,
# port), no query or fragment
_MIRROR_PATH = re.compile(r"^/[A-Za-z0-9._~+=,-][A-Za-z0-9._~+=,/-]{0,499}\Z")
# a fact read from an upstream tag (a version, a module path, a config file, a hash)
_FACT_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,199}\Z")
_FACT_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_/~=,-]{0,299}\Z")
# how a hash became known: a kind (git-blob, public-record, fetch…), optionally "<kind> by
# <tool+version>" (a generated source: "generated by go1.23.7"); one space each side of "by"
_ORIGIN = re.compile(r"^(?:[a-z][a-z0-9-]{0,39}(?: by [A-Za-z0-9][A-Za-z0-9.+_-]{0,63})?)?\Z")


def repo(value: object, what: str = "repository") -> str:
    if not isinstance(value, str) or not _REPO.fullmatch(value) or ".." in value:
        raise InputError(f"{what} {_show(value)} is not owner/name", "e.g. k3s-io/k3s")
    return value


def rpm_version(value: object, what: str = "version") -> str:
    if not isinstance(value, str) or not _RPM_VERSION.fullmatch(value):
        raise InputError(
            f"{what} {_show(value)} is not an RPM version", "letters, digits and . + ~ ^ _ only"
        )
    return value


def mirror_path(value: object, what: str = "path") -> str:
    """A path below a mirror; %XX escapes allowed (a backup mirror's urlencoded names: a
    mirror path is fetched, never shown in a spec)."""
    bare = re.sub(r"%[0-9A-F]{2}", "-", value) if isinstance(value, str) else value
    if (
        not isinstance(value, str)
        or not isinstance(bare, str)
        or not _MIRROR_PATH.fullmatch(bare)
        or "//" in value
        or any(seg in (".", "..") for seg in value.split("/"))
    ):
        raise InputError(
            f"{what} {_show(value)} is not a path below a mirror",
            "it must start with / and hold letters, digits and . _ ~ + = , - / only",
        )
    return value


def origin(value: object, what: str = "origin") -> str:
    if not isinstance(value, str) or not _ORIGIN.fullmatch(value):
        raise InputError(f"{what} {_show(value)} is not a known kind of origin", "")
    return value


def size(value: object, what: str = "size") -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < (1 << 50):
        raise InputError(f"{what} {_show(value)} is not a byte count", "")
    return value


def facts(value: object, what: str, depth: int = 0) -> None:
    """A component's facts: nested tables of plain keys and values. A key starting with ``_``
    holds a note (one line of prose, :func:`free_text`); every other string is a token."""
    if depth > 8:
        raise InputError(f"{what}: nested too deeply", "re-resolve")
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str) or not _FACT_KEY.fullmatch(k):
                raise InputError(f"{what}: key {_show(k)} is not allowed", "re-resolve")
            if k.startswith("_"):
                if v is not None:
                    free_text(v, f"{what}.{k}")
                continue
            facts(v, f"{what}.{k}", depth + 1)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            facts(v, f"{what}[{i}]", depth + 1)
    elif isinstance(value, str):
        if not _FACT_VALUE.fullmatch(value) or ".." in value or "//" in value:
            raise InputError(
                f"{what} {_show(value)} is not allowed in a fact",
                "letters, digits and . + _ / ~ = , - only; re-resolve or restore the lock",
            )
    elif value is None or isinstance(value, bool | int):
        return
    else:
        raise InputError(f"{what}: unexpected value type {type(value).__name__}", "re-resolve")
