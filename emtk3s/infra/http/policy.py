"""What a download may do: retries and their backoff, timeouts, an overall deadline, a size cap
for a download the lock does not size, and which redirect hops are followed."""

from __future__ import annotations

import ipaddress
import os
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from emtk3s.infra import checks
from emtk3s.infra.errors import InputError, UpstreamError

MAX_REDIRECTS = 10
MAX_ENV = "EMTK3S_MAX_DOWNLOAD"
DEFAULT_MAX_UNPINNED = 4 << 30  # 4 GiB: above any source emtk3s packages
DEADLINE_ENV = "EMTK3S_DOWNLOAD_DEADLINE"
#: seconds one download may take, all its attempts together, on top of its bytes at MIN_RATE
DEFAULT_DEADLINE = 600.0
#: the slowest average rate a large download is given time for (bytes a second)
MIN_RATE = 64 << 10


def _positive_env(name: str, default: float, example: str) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw) if name == DEADLINE_ENV else int(raw)
    except ValueError:
        value = 0
    if value <= 0 or (name == MAX_ENV and not raw.isdigit()):
        raise InputError(f"{name}={raw!r} is not a positive number", f"e.g. {example}")
    return value


def max_unpinned_from_env() -> int:
    """The size cap of a download whose size the lock does not pin (``EMTK3S_MAX_DOWNLOAD``)."""
    return int(_positive_env(MAX_ENV, DEFAULT_MAX_UNPINNED, "4294967296 (bytes)"))


def deadline_from_env() -> float:
    """Seconds a download may take besides its bytes at MIN_RATE (``EMTK3S_DOWNLOAD_DEADLINE``)."""
    return _positive_env(DEADLINE_ENV, DEFAULT_DEADLINE, "600 (seconds)")


@dataclass
class Policy:
    retries: int = 4
    backoff: float = 0.5  # seconds; doubles each attempt
    timeout: float = 30.0  # connect and read timeout, per request
    jobs: int = 8
    max_unpinned: int = field(default_factory=max_unpinned_from_env)  # bytes
    # every attempt of one download together: this many seconds plus its size at MIN_RATE (a
    # server that trickles a byte at a time never trips the read timeout, only this)
    deadline: float = field(default_factory=deadline_from_env)


class Deadline:
    """The moment one download must be done by; extended once the body's length is known."""

    def __init__(self, policy: Policy, size: int | None) -> None:
        self.base = policy.deadline
        self.start = time.monotonic()
        self.seconds = self.base + (size or 0) / MIN_RATE

    def expect(self, size: int) -> None:
        self.seconds = max(self.seconds, self.base + size / MIN_RATE)

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.start)

    def check(self, name: str, url: str) -> None:
        if self.left() <= 0:
            raise UpstreamError(
                f"{name}: {url} did not finish within {self.seconds:.0f} s "
                "(the server sends too slowly or not at all)",
                f"check the mirror; give downloads more time with {DEADLINE_ENV}=SECONDS",
            )


def _local(host: str) -> bool:
    """A name or address that reaches this machine: loopback (127/8, ::1, v4-mapped too),
    the unspecified address and ``localhost`` with its subdomains."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback or addr.is_unspecified


def check_hop(name: str, origin: str, url: str, target: str, allow_http: bool) -> None:
    """Every redirect target passes the same check as a configured mirror URL, and may reach
    this machine's own services only when the configured mirror is on this machine."""
    try:
        checks.url(target, f"redirect target of {name}", allow_http=allow_http, escapes=True)
    except InputError as exc:
        raise UpstreamError(
            f"{name}: {url} redirects to a refused URL: {exc.message}",
            "fix the mirror; a redirect is followed only to a URL emtk3s would accept as a mirror",
        ) from None
    host = urlsplit(target).hostname or ""
    if _local(host) and not _local(urlsplit(origin).hostname or ""):
        raise UpstreamError(
            f"{name}: {url} redirects to a refused URL: {target} is on this machine "
            "and the mirror is not",
            "fix the mirror; a redirect to loopback is followed only from a loopback mirror",
        )
