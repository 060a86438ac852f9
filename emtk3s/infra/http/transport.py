"""One HTTP GET into a partial file: redirects one checked hop at a time, resume with ``Range`` +
``If-Range``, the bytes hashed as they arrive.

A partial download is resumed only with the validator (strong ETag or Last-Modified) of the
response that started it, kept beside the ``.part``, and a 206 is appended only when its
``Content-Range`` starts where we asked *and* it carries that same validator (a server or a cache
that ignores If-Range would otherwise glue a new version's tail to the old head); anything else
starts over from byte 0. Bodies too small to be worth resuming keep no validator (one file
fewer per download) and are restarted instead. The bytes as served are hashed
(``Accept-Encoding: identity``; an encoding we did not ask for is refused)."""

from __future__ import annotations

import hashlib
import os
import queue
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from emtk3s.infra.errors import IntegrityError, UpstreamError
from emtk3s.infra.http.errors import Retry
from emtk3s.infra.http.policy import MAX_ENV, MAX_REDIRECTS, Deadline, Policy, check_hop

if TYPE_CHECKING:  # urllib3 is imported when something is downloaded, not at start-up
    import urllib3

USER_AGENT = "emtk3s (+https://github.com/open-edge-platform)"

#: the most bytes taken from the socket at a time (bench_fetch: 256 KiB with hashing on a
#: second thread beats 64 KiB and 1 MiB, inline or not)
CHUNK = 1 << 18
#: below this many bytes a body is hashed inline: a thread costs more than it saves
INLINE_HASH_MAX = 1 << 20
#: below this many bytes a body keeps no validator file and is restarted, not resumed
RESUME_MIN = 128 << 10


@dataclass(frozen=True)
class Download:
    name: str  # local file name (for messages and quarantine)
    url: str  # where to get it (a mirror URL)
    sha256: str | None  # None: unpinned, the first download pins it
    size: int | None = None
    allow_http: bool = False
    mirror: str = ""  # the release.toml mirror name serving it (for "set EMTK3S_MIRROR_<NAME>")


class Transport:
    """urllib3 connection pools shared by every download of a process (requests' session
    machinery cost more per request than a small download on loopback): TLS verification
    always on, with requests' CA bundle (certifi, or ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``),
    and the proxy environment read once, not per request."""

    def __init__(self, jobs: int) -> None:
        import urllib.request

        import urllib3

        self.jobs = max(jobs, 10)
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if not bundle:
            import certifi

            bundle = certifi.where()
        self._pool_args: dict[str, Any] = {
            "num_pools": 16,
            "maxsize": self.jobs,
            "cert_reqs": "CERT_REQUIRED",  # verification is never turned off
            "ca_certs": bundle,
        }
        self.direct = urllib3.PoolManager(**self._pool_args)
        self._proxies = {k: v for k, v in urllib.request.getproxies().items() if k != "no"}
        self._no_proxy = os.environ.get("no_proxy") or os.environ.get("NO_PROXY")
        self._by_host: dict[tuple[str, str], urllib3.PoolManager] = {}
        self._lock = threading.Lock()

    def manager(self, url: str) -> urllib3.PoolManager:
        """The pool for ``url``: direct, or through the proxy the environment names for its
        scheme and host (remembered per scheme and host)."""
        if not self._proxies:
            return self.direct
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        with self._lock:
            got = self._by_host.get(key)
            if got is None:
                import urllib3
                from requests.utils import should_bypass_proxies

                proxy = self._proxies.get(parts.scheme) or self._proxies.get("all")
                if not proxy or should_bypass_proxies(url, no_proxy=self._no_proxy):
                    got = self.direct
                else:
                    got = next(
                        (m for m in self._by_host.values() if getattr(m, "proxy_url", "") == proxy),
                        None,
                    ) or urllib3.ProxyManager(proxy, **self._pool_args)
                    got.proxy_url = proxy  # type: ignore[attr-defined]
                self._by_host[key] = got
        return got


_shared: Transport | None = None
_shared_lock = threading.Lock()


def shared(jobs: int) -> Transport:
    """The process's transport (its pools sized for at least ``jobs`` connections)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.jobs < jobs:
            _shared = Transport(jobs)
        return _shared


_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def get(
    transport: Transport,
    dl: Download,
    headers: dict[str, str],
    policy: Policy,
    deadline: Deadline,
) -> urllib3.BaseHTTPResponse:
    """GET ``dl.url``, following redirects one hop at a time, each hop checked. The response
    is streamed (the caller reads it and gives the connection back, :func:`done`)."""
    import urllib3

    url = dl.url
    for _ in range(MAX_REDIRECTS + 1):
        deadline.check(dl.name, dl.url)
        read = max(0.1, min(policy.timeout, deadline.left()))
        resp = transport.manager(url).request(
            "GET",
            url,
            headers=headers,
            preload_content=False,
            decode_content=False,
            redirect=False,
            retries=False,
            timeout=urllib3.Timeout(connect=policy.timeout, read=read),
        )
        location = resp.headers.get("Location")
        if resp.status not in _REDIRECTS or not location:
            return resp
        done(resp, clean=False)
        target = urljoin(url, location)
        check_hop(dl.name, dl.url, url, target, dl.allow_http)
        url = target
    raise UpstreamError(f"{dl.name}: {dl.url}: more than {MAX_REDIRECTS} redirects", "")


def done(resp: urllib3.BaseHTTPResponse, clean: bool) -> None:
    """Give the response's connection back to its pool: for reuse when its body was read to
    the end, else closed first (what is left of a body is never read as the next answer)."""
    if not clean:
        resp.close()
    resp.release_conn()


def validator_path(part: Path) -> Path:
    """Beside a ``.part``: the validator of the response that started it."""
    return part.with_suffix(".validator")


def validator_of(resp: urllib3.BaseHTTPResponse) -> str | None:
    etag = resp.headers.get("ETag", "")
    if etag and not etag.startswith("W/"):  # If-Range takes only a strong validator
        return etag
    return resp.headers.get("Last-Modified") or None


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def restart(fd: int, part: Path) -> None:
    """Empty the partial file (kept: its inode is the download's lock) and drop its validator."""
    os.ftruncate(fd, 0)
    validator_path(part).unlink(missing_ok=True)


def too_big(dl: Download, cap: int, fd: int, part: Path) -> IntegrityError:
    restart(fd, part)
    return IntegrityError(
        f"{dl.name}: {dl.url} is larger than {cap} bytes, the limit for a download the lock "
        "does not pin yet",
        f"check the mirror; raise the limit with {MAX_ENV}=BYTES if the file is really this big",
    )


def download_once(
    transport: Transport,
    dl: Download,
    fd: int,
    part: Path,
    policy: Policy,
    deadline: Deadline,
    on_bytes: Callable[[int], None] | None = None,
    fresh: bool = False,
) -> Streamed:
    """One HTTP request into the partial file open (and locked) as ``fd``, appended to when it
    already holds bytes and the server proves it still serves the same file. Returns the sha256
    of the whole file, hashed as the bytes arrive (never read back), and whether a validator
    file is left beside the partial one (else there is none). ``fresh``: the partial file was
    just created, empty, and ``fd`` never written through (its offset is 0)."""
    vpath = validator_path(part)
    have = 0 if fresh else os.fstat(fd).st_size
    # a pinned body too small to be resumed never keeps a validator, and never reads one: a
    # stale one (left by a failure at byte 0) is then ignored, not removed, one system call
    # fewer for every small download
    small = dl.size is not None and dl.size < RESUME_MIN
    validator = ""
    kept = False  # a validator file is beside the partial file
    if have:
        if not small:
            try:
                validator = vpath.read_text().strip()
                kept = True
            except FileNotFoundError:
                pass
        if not validator:  # nothing proves the server still has the same bytes
            restart(fd, part)
            have = 0
            kept = False
    # the bytes as served are what is hashed and pinned: no transfer decoding
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
        headers["If-Range"] = validator
    cap = dl.size if dl.size is not None else policy.max_unpinned
    asked = time.monotonic()
    resp = get(transport, dl, headers, policy, deadline)
    answered = time.monotonic() - asked
    rtt = round_trip(resp)
    clean = False
    try:
        status = resp.status
        if status == 416 and have:
            restart(fd, part)
            raise Retry("server refused our range; starting over")
        if status == 404:
            raise UpstreamError(
                f"{dl.name}: {dl.url} answered 404 Not Found",
                "check the version, or that the mirror carries this file",
            )
        if status >= 500 or status == 429:
            raise Retry(f"HTTP {status}")
        if status not in (200, 206):
            raise UpstreamError(f"{dl.name}: {dl.url} answered HTTP {status}", "")
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise UpstreamError(
                f"{dl.name}: {dl.url} answered with Content-Encoding {encoding}, "
                "which emtk3s did not ask for",
                "fix the mirror: it must serve the file's own bytes (Accept-Encoding: identity)",
            )
        length_header = resp.headers.get("Content-Length")
        length = int(length_header) if length_header and length_header.isdigit() else None
        if status == 206:
            m = _CONTENT_RANGE.fullmatch(resp.headers.get("Content-Range", ""))
            if not have or m is None or int(m.group(1)) != have:
                restart(fd, part)
                raise Retry(
                    f"server answered range {resp.headers.get('Content-Range')!r} "
                    f"to a request from byte {have}; starting over"
                )
            if validator_of(resp) != validator:
                # a 206 of another version (If-Range ignored on the way): its tail does not
                # belong after our head
                restart(fd, part)
                raise Retry("server answered a range of a changed file; starting over")
            os.lseek(fd, have, os.SEEK_SET)
        else:
            # a full body: the validator changed, or the server ignores ranges. An empty
            # partial file (a fresh download) is not truncated: on ext4 (auto_da_alloc) a
            # truncation to 0 makes the close that follows start writeback of the whole file,
            # 0.18 s of a 500 MB download spent waiting in close(2)
            if not fresh:
                if have or os.fstat(fd).st_size:
                    os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
            have = 0
            new_validator = validator_of(resp)
            expected = length if length is not None else dl.size
            if (
                new_validator
                and "\n" not in new_validator
                and (expected is None or expected >= RESUME_MIN)
                and not small
            ):
                vpath.write_text(new_validator + "\n")
                kept = True
            elif not small:
                vpath.unlink(missing_ok=True)
                kept = False
        if length is not None:
            deadline.expect(have + length)
            if dl.size is None and have + length > cap:
                raise too_big(dl, cap, fd, part)
        import urllib3

        total = have + length if length is not None else dl.size
        inline = total is not None and total <= INLINE_HASH_MAX and not have
        start = hash_of(fd, have) if have else hashlib.sha256()
        hasher: Hasher = start if inline else HashBehind(start)
        written = have
        try:
            # read1: what has arrived, up to CHUNK (a slow server's bytes are written, and
            # resumable, as they come, not when a whole chunk has)
            while chunk := resp.read1(CHUNK):
                deadline.check(dl.name, dl.url)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
                written += len(chunk)
                hasher.update(chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
                if written > cap:
                    if dl.size is not None:
                        raise IntegrityError(
                            f"{dl.name}: {dl.url} sent more than the {dl.size} bytes the lock pins",
                            "check the mirror",
                        )
                    raise too_big(dl, cap, fd, part)
        except urllib3.exceptions.ProtocolError as exc:
            raise Retry(f"connection closed mid-body ({type(exc).__name__})") from None
        except urllib3.exceptions.ReadTimeoutError:
            raise Retry("read timed out") from None
        finally:
            digest = hasher.digest_now() if isinstance(hasher, HashBehind) else hasher
        # no fsync: the cache seals the entry's record to this boot (infra/cache.py), so a
        # crash that loses these bytes also voids the record, and they are rehashed
        if length is not None and written != have + length:
            raise Retry("connection closed before the end of the body")
        clean = True
    finally:
        done(resp, clean)
    return Streamed(digest.hexdigest(), written, kept, answered, rtt)


@dataclass(frozen=True)
class Streamed:
    sha256: str  # of the whole partial file
    size: int  # its size
    validator: bool  # a validator file is left beside it
    answered: float  # seconds from the request to the response's headers (redirects included)
    rtt: float  # the connection's round-trip time as the kernel measures it (0: unknown)


def round_trip(resp: urllib3.BaseHTTPResponse) -> float:
    """The smoothed round-trip time of the response's TCP connection, in seconds, as the
    kernel measures it (``tcp_info.tcpi_rtt``, Linux): the network's latency, unlike a time
    taken in Python, which includes waiting for the interpreter lock. 0 where it cannot be read."""
    try:
        sock = resp.connection.sock  # type: ignore[union-attr]
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        return float(struct.unpack_from("=I", info, _TCPI_RTT)[0]) / 1e6
    except (AttributeError, OSError, struct.error):
        return 0.0


#: offset of tcpi_rtt (microseconds) in Linux's struct tcp_info: 8 one-byte fields, then
#: rto ato snd_mss rcv_mss unacked sacked lost retrans fackets last_data_sent last_ack_sent
#: last_data_recv last_ack_recv pmtu rcv_ssthresh (u32 each), then rtt
_TCPI_RTT = 68


class HashBehind:
    """A sha256 fed on a second thread while the first receives and writes: hashlib releases
    the GIL for large updates, so a download costs the slower of the two, not their sum. A
    bounded queue (16 chunks, 4 MiB) keeps memory flat when hashing falls behind."""

    def __init__(self, digest: hashlib._Hash) -> None:
        self._digest = digest
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._digest.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def digest_now(self) -> hashlib._Hash:
        """Wait for every chunk given so far to be hashed; the digest."""
        self._queue.put(None)
        self._thread.join()
        return self._digest


if TYPE_CHECKING:
    Hasher = HashBehind | hashlib._Hash


def hash_of(fd: int, size: int) -> hashlib._Hash:
    """A sha256 fed with the first ``size`` bytes of the open partial file (a resume)."""
    digest = hashlib.sha256()
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(1 << 20, size - offset), offset)
        if not chunk:
            break
        digest.update(chunk)
        offset += len(chunk)
    return digest
