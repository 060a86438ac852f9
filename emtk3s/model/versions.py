"""K3s tags and RPM EVRs: a strict parser and a mapping that round-trips and keeps order.

``v1.32.6+k3s1``      -> Version ``1.32.6+k3s1``
``v1.33.0-rc1+k3s1``  -> Version ``1.33.0~rc1+k3s1``  (``~`` sorts before the final release)

The RPM ``Release`` is the packaging revision (``N%{?dist}``) and never carries upstream data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from emtk3s.infra.errors import InputError

_K3S_TAG = re.compile(
    r"^v(?P<major>0|[1-9][0-9]{0,3})\.(?P<minor>0|[1-9][0-9]{0,3})\.(?P<patch>0|[1-9][0-9]{0,3})"
    r"(?:-rc(?P<rc>[1-9][0-9]{0,3}))?\+k3s(?P<k3s>[1-9][0-9]{0,3})\Z"
)
_K3S_VERSION = re.compile(
    r"^(?P<major>0|[1-9][0-9]{0,3})\.(?P<minor>0|[1-9][0-9]{0,3})\.(?P<patch>0|[1-9][0-9]{0,3})"
    r"(?:~rc(?P<rc>[1-9][0-9]{0,3}))?\+k3s(?P<k3s>[1-9][0-9]{0,3})\Z"
)
# A generic upstream component tag such as v0.14.1, v1.6.0-k3s1, v2.0.4-k3s2, 34.2.1+up34.2.0.
_COMPONENT_TAG = re.compile(r"^v?(?P<ver>[0-9][0-9A-Za-z.]*)(?P<rest>(?:[-+][0-9A-Za-z.]+)*)\Z")


@total_ordering
@dataclass(frozen=True)
class K3sTag:
    major: int
    minor: int
    patch: int
    rc: int | None
    k3s: int

    @classmethod
    def parse(cls, text: str) -> K3sTag:
        m = _K3S_TAG.fullmatch(text) if isinstance(text, str) else None
        if not m:
            raise InputError(
                f"K3s tag {text!r} is not valid",
                "use the upstream form vMAJOR.MINOR.PATCH[-rcN]+k3sN, e.g. v1.32.4+k3s1",
            )
        return cls._from_match(m)

    @classmethod
    def from_rpm_version(cls, text: str) -> K3sTag:
        m = _K3S_VERSION.fullmatch(text) if isinstance(text, str) else None
        if not m:
            raise InputError(f"RPM version {text!r} is not a K3s version", "e.g. 1.32.4+k3s1")
        return cls._from_match(m)

    @classmethod
    def _from_match(cls, m: re.Match[str]) -> K3sTag:
        rc = m.group("rc")
        return cls(
            int(m.group("major")),
            int(m.group("minor")),
            int(m.group("patch")),
            int(rc) if rc else None,
            int(m.group("k3s")),
        )

    @property
    def tag(self) -> str:
        rc = f"-rc{self.rc}" if self.rc is not None else ""
        return f"v{self.major}.{self.minor}.{self.patch}{rc}+k3s{self.k3s}"

    @property
    def rpm_version(self) -> str:
        rc = f"~rc{self.rc}" if self.rc is not None else ""
        return f"{self.major}.{self.minor}.{self.patch}{rc}+k3s{self.k3s}"

    @property
    def kubernetes(self) -> str:
        """The Kubernetes version this tag builds, e.g. v1.32.4 (rc included)."""
        rc = f"-rc{self.rc}" if self.rc is not None else ""
        return f"v{self.major}.{self.minor}.{self.patch}{rc}"

    @property
    def minor_line(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def sort_key(self) -> tuple[int, int, int, int, int, int]:
        # a release candidate sorts before the final release of the same patch version
        final = 1 if self.rc is None else 0
        return (self.major, self.minor, self.patch, final, self.rc or 0, self.k3s)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, K3sTag):
            return NotImplemented
        return self.sort_key() < other.sort_key()

    def __str__(self) -> str:
        return self.tag


def component_version(tag: str) -> str:
    """RPM Version for a generic upstream tag: drop a leading ``v``, ``-rcN`` becomes ``~rcN``,
    any other ``-`` becomes ``.`` (RPM forbids ``-`` in Version).

    >>> component_version("v0.14.1"), component_version("v1.6.0-k3s1")
    ('0.14.1', '1.6.0.k3s1')
    """
    m = _COMPONENT_TAG.fullmatch(tag) if isinstance(tag, str) else None
    if not m:
        raise InputError(f"upstream tag {tag!r} has no version in it", "e.g. v0.14.1")
    rest = re.sub(r"-(rc\.?[0-9]+)", r"~\1", m.group("rest")).replace("-", ".")
    return m.group("ver") + rest


def _alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


def _vercmp(a: str, b: str) -> int:
    """rpm's ``rpmvercmp`` of two version (or release) strings: -1, 0 or 1.

    Alphanumeric segments are compared in turn (numbers numerically, letters as strings, a
    number newer than letters); ``~`` sorts before anything, even the end of the string
    (``1.0~rc1`` < ``1.0``), ``^`` after the end but before any further segment."""
    if a == b:
        return 0
    i, j, la, lb = 0, 0, len(a), len(b)
    while i < la or j < lb:
        while i < la and not _alnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < lb and not _alnum(b[j]) and b[j] not in "~^":
            j += 1
        ca, cb = a[i] if i < la else "", b[j] if j < lb else ""
        if ca == "~" or cb == "~":
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i, j = i + 1, j + 1
            continue
        if ca == "^" or cb == "^":
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not (ca and cb):
            break
        kind = str.isdigit if ca.isdigit() else str.isalpha
        p, q = i, j
        while p < la and a[p].isascii() and kind(a[p]):
            p += 1
        while q < lb and b[q].isascii() and kind(b[q]):
            q += 1
        sa, sb = a[i:p], b[j:q]
        if not sb:  # a number against letters: the number is newer
            return 1 if kind is str.isdigit else -1
        if kind is str.isdigit:
            sa, sb = sa.lstrip("0"), sb.lstrip("0")
            if len(sa) != len(sb):
                return 1 if len(sa) > len(sb) else -1
        if sa != sb:
            return 1 if sa > sb else -1
        i, j = p, q
    if i >= la and j >= lb:
        return 0
    return -1 if i >= la else 1


def evr_compare(a: str, b: str) -> int:
    """-1, 0 or 1 as rpm orders versions ``a`` and ``b``: what ``rpm.labelCompare`` says of
    ``(epoch, a, release)`` against ``(epoch, b, release)``, without the rpm bindings. The one
    version comparison of emtk3s (EMT's specs against ours, component changes, Go releases)."""
    return _vercmp(a, b)
