"""What a transport failure means, told by the exception's type (and its causes), never by its
message text: a host that cannot be reached (stop every download), a TLS failure (stop this
one), or a transient fault worth a retry (with a short phrase for the retry line)."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

from emtk3s.infra.errors import UpstreamError


class Retry(Exception):
    """A fault of this attempt (5xx, a dropped connection, a range the server would not honour):
    the download is tried again, resuming where the partial file allows."""


class Unreachable(UpstreamError):
    """No DNS or no route to the host: retrying cannot help, other downloads stop too."""


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: ``__cause__``/``__context__``, urllib3's ``reason``
    (MaxRetryError) and exceptions among ``args`` (where wrappers keep the original)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        nested = [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
        todo.extend(x for x in nested if isinstance(x, BaseException))


_NO_ROUTE = {errno.ENETUNREACH, errno.EHOSTUNREACH}


def unreachable_why(exc: BaseException) -> str | None:
    """ "host name not resolved" / "no route" when the failure is the network itself."""
    for e in causes(exc):
        if isinstance(e, socket.gaierror):
            return "host name not resolved"
        if isinstance(e, OSError) and e.errno in _NO_ROUTE:
            return "no route"
    return None


def unreachable(url: str, name: str, mirror: str, exc: BaseException) -> Unreachable | None:
    why = unreachable_why(exc)
    if why is None:
        return None
    host = urlsplit(url).hostname or url
    mirror = mirror or "github"
    return Unreachable(
        f"cannot reach {host} ({why}) for {name}",
        f"no network here? set EMTK3S_MIRROR_{mirror.upper()}=URL (or --mirror {mirror}=URL) to "
        "a mirror you can reach, or work from the cache with --offline",
    )


def is_tls(exc: BaseException) -> bool:
    import ssl

    import urllib3

    return any(isinstance(e, ssl.SSLError | urllib3.exceptions.SSLError) for e in causes(exc))


def is_transient(exc: BaseException) -> bool:
    """A fault a new attempt may not meet: a dropped or refused connection, a timeout, a
    truncated body, a proxy hiccup (not a URL urllib3 cannot use)."""
    import urllib3

    e = urllib3.exceptions
    return isinstance(
        exc,
        Retry
        | e.ProtocolError
        | e.TimeoutError
        | e.NewConnectionError
        | e.ProxyError
        | e.MaxRetryError
        | e.ResponseError
        | ConnectionError
        | TimeoutError,
    )


def short(exc: BaseException) -> str:
    """One short phrase for a transport error (urllib3's own text runs to several lines)."""
    if isinstance(exc, Retry):
        return str(exc)
    import http.client
    import ssl

    import urllib3

    why = unreachable_why(exc)
    if why is not None:
        return why
    kinds: list[tuple[type[BaseException] | tuple[type[BaseException], ...], str]] = [
        ((ssl.SSLError, urllib3.exceptions.SSLError), "TLS failure"),
        (urllib3.exceptions.ConnectTimeoutError, "connect timed out"),
        ((urllib3.exceptions.ReadTimeoutError, TimeoutError), "read timed out"),
        (ConnectionRefusedError, "connection refused"),
        (http.client.RemoteDisconnected, "connection closed by server"),
        (
            (
                http.client.IncompleteRead,
                urllib3.exceptions.ProtocolError,
                ConnectionResetError,
            ),
            "connection closed mid-body",
        ),
    ]
    chain = list(causes(exc))
    for kind, phrase in kinds:
        if any(isinstance(e, kind) for e in chain):
            return phrase
    return " ".join(str(exc).split())[:120] or type(exc).__name__
