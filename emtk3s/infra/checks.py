"""Strict validation of every value that can reach a spec file, a URL or a command line.

Values are refused, never escaped: a spec is a macro language, so a ``%`` or a newline in a
version string could inject a scriptlet.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from emtk3s.infra.errors import InputError

# An upstream tag: starts with a letter or digit, then letters, digits and . + _ - only.
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,99}$")
# An RPM package name.
_PKG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]{0,99}$")
# A file name that may appear as a Source or Patch (no directories).
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]{0,199}$")
# A git commit (full sha1 or sha256 object name).
_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Characters allowed in a URL that reaches a spec: RFC 3986 unreserved + reserved, minus
# quotes, backslashes, spaces, ``%`` (would be a macro) and anything a shell would expand.
_URL_CHARS = re.compile(r"^[A-Za-z0-9._~:/?#\[\]@!&'()*+,;=-]+$")
_FREE_TEXT = re.compile(r"^[^\x00-\x1f\x7f%`$\\]{1,200}$")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def tag(value: str, what: str = "tag") -> str:
    if not isinstance(value, str) or not _TAG.match(value) or ".." in value:
        raise InputError(
            f"{what} {_show(value)} is not a valid tag",
            "use letters, digits and . + _ - only, e.g. v1.32.4+k3s1",
        )
    return value


def package_name(value: str) -> str:
    if not isinstance(value, str) or not _PKG.match(value):
        raise InputError(
            f"package name {_show(value)} is not valid", "use letters, digits and + . _ - only"
        )
    return value


def file_name(value: str, what: str = "file name") -> str:
    if not isinstance(value, str) or not _FILE.match(value) or ".." in value:
        raise InputError(
            f"{what} {_show(value)} is not a plain file name",
            "use letters, digits and + . _ - only, no directories",
        )
    return value


def commit(value: str) -> str:
    if not isinstance(value, str) or not _COMMIT.match(value):
        raise InputError(
            f"commit {_show(value)} is not a full git object name", "use 40 hex digits"
        )
    return value


def sha256(value: str, what: str = "sha256") -> str:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise InputError(f"{what} {_show(value)} is not a sha256", "use 64 lowercase hex digits")
    return value


def free_text(value: str, what: str) -> str:
    """One line of prose for a spec (a changelog author, a summary): no macros, no controls."""
    if not isinstance(value, str) or not _FREE_TEXT.match(value):
        raise InputError(
            f"{what} {_show(value)} is not allowed in a spec",
            "use one line without % ` $ \\ or control characters",
        )
    return value


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url(value: str, what: str = "URL", allow_http: bool = False) -> str:
    """An http(s) URL: https always; plain http only for loopback or when allowed by name."""
    if not isinstance(value, str) or not _URL_CHARS.match(value):
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
        if not _URL_CHARS.match(value):
            raise InputError(f"{what} {_show(value)} has characters not allowed in a path", "")
        return value
    return url(value, what, allow_http=allow_http)


_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_:/=@-]{0,299}$")


def is_label(value: str) -> bool:
    """A generated source's label (e.g. generated:go-mod-vendor:<commit>)."""
    return isinstance(value, str) and bool(_LABEL.match(value)) and ".." not in value
