"""HTTPS downloads: parallel, retried with backoff, atomic, verified. A partial download is
resumed only with ``If-Range`` and the validator of the response that started it, and only a
206 whose ``Content-Range`` starts where we asked is appended; anything else starts over. The
bytes as served are hashed (``Accept-Encoding: identity``; an encoding we did not ask for is
refused), a download the lock does not size is capped, and every redirect hop is checked."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from emtk3s.infra import checks as validate
from emtk3s.infra.cache import Cache
from emtk3s.infra.errors import (
    Emtk3sError,
    EnvironmentProblem,
    InputError,
    IntegrityError,
    UpstreamError,
)
from emtk3s.infra.fsutil import file_lock

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # requests is imported when something is downloaded, not at start-up
    import requests

USER_AGENT = "emtk3s (+https://github.com/open-edge-platform)"


@dataclass(frozen=True)
class Download:
    name: str  # local file name (for messages and quarantine)
    url: str  # where to get it (a mirror URL)
    sha256: str | None  # None: unpinned, the first download pins it
    size: int | None = None
    allow_http: bool = False
    mirror: str = ""  # the release.toml mirror name serving it (for "set EMTK3S_MIRROR_<NAME>")


@dataclass(frozen=True)
class Fetched:
    name: str
    url: str
    sha256: str
    size: int
    downloaded: bool  # False: it was a verified cache hit
    attempts: int


MAX_REDIRECTS = 10
MAX_ENV = "EMTK3S_MAX_DOWNLOAD"
DEFAULT_MAX_UNPINNED = 4 << 30  # 4 GiB: above any source emtk3s packages


def max_unpinned_from_env() -> int:
    """The size cap of a download whose size the lock does not pin (``EMTK3S_MAX_DOWNLOAD``)."""
    raw = os.environ.get(MAX_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_UNPINNED
    if not raw.isdigit() or int(raw) <= 0:
        raise InputError(f"{MAX_ENV}={raw!r} is not a positive number of bytes", "e.g. 4294967296")
    return int(raw)


@dataclass
class Policy:
    retries: int = 4
    backoff: float = 0.5  # seconds; doubles each attempt
    timeout: float = 30.0  # connect and read timeout, per request
    jobs: int = 8
    max_unpinned: int = field(default_factory=max_unpinned_from_env)  # bytes


def _partial_path(cache: Cache, dl: Download) -> Path:
    key = dl.sha256 or hashlib.sha256(dl.url.encode()).hexdigest()
    return cache.partial_dir / f"{key}.part"


def _validator_path(part: Path) -> Path:
    """Beside a ``.part``: the validator (strong ETag or Last-Modified) of the response that
    started it. A ``.part`` without one is never resumed."""
    return part.with_suffix(".validator")


def _validator_of(resp: requests.Response) -> str | None:
    etag = resp.headers.get("ETag", "")
    if etag and not etag.startswith("W/"):  # If-Range takes only a strong validator
        return etag
    return resp.headers.get("Last-Modified") or None


_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)\Z")


def _check_hop(dl: Download, url: str, target: str) -> None:
    """Every redirect target passes the same check as a configured mirror URL."""
    try:
        validate.url(
            target, f"redirect target of {dl.name}", allow_http=dl.allow_http, escapes=True
        )
    except InputError as exc:
        raise UpstreamError(
            f"{dl.name}: {url} redirects to a refused URL: {exc.message}",
            "fix the mirror; a redirect is followed only to a URL emtk3s would accept as a mirror",
        ) from None


def _get(
    session: requests.Session, dl: Download, headers: dict[str, str], policy: Policy
) -> requests.Response:
    """GET ``dl.url``, following redirects one hop at a time, each hop checked."""
    url = dl.url
    for _ in range(MAX_REDIRECTS + 1):
        resp = session.get(
            url, headers=headers, stream=True, timeout=policy.timeout, allow_redirects=False
        )
        if not resp.is_redirect:
            return resp
        target = urljoin(url, resp.headers["Location"])
        resp.close()
        _check_hop(dl, url, target)
        url = target
    raise UpstreamError(f"{dl.name}: {dl.url}: more than {MAX_REDIRECTS} redirects", "")


def _download_once(
    session: requests.Session,
    dl: Download,
    part: Path,
    policy: Policy,
    on_bytes: Callable[[int], None] | None = None,
) -> str:
    """One HTTP request, appending to ``part`` (resume) when it already holds bytes and a
    validator says the server still serves the same file (If-Range). Returns the sha256 of the
    whole of ``part``, hashed as the bytes arrive (never read back)."""
    vpath = _validator_path(part)
    have = part.stat().st_size if part.exists() else 0
    validator = vpath.read_text().strip() if have and vpath.exists() else ""
    if have and not validator:  # nothing proves the server still has the same bytes
        part.unlink()
        have = 0
    # the bytes as served are what is hashed and pinned: no transfer decoding
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
        headers["If-Range"] = validator
    cap = dl.size if dl.size is not None else policy.max_unpinned
    with _get(session, dl, headers, policy) as resp:
        if resp.status_code == 416 and have:
            part.unlink()
            raise _Retry("server refused our range; starting over")
        if resp.status_code == 404:
            raise UpstreamError(
                f"{dl.name}: {dl.url} answered 404 Not Found",
                "check the version, or that the mirror carries this file",
            )
        if resp.status_code >= 500 or resp.status_code == 429:
            raise _Retry(f"HTTP {resp.status_code}")
        if resp.status_code not in (200, 206):
            raise UpstreamError(f"{dl.name}: {dl.url} answered HTTP {resp.status_code}", "")
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise UpstreamError(
                f"{dl.name}: {dl.url} answered with Content-Encoding {encoding}, "
                "which emtk3s did not ask for",
                "fix the mirror: it must serve the file's own bytes (Accept-Encoding: identity)",
            )
        if resp.status_code == 206:
            m = _CONTENT_RANGE.fullmatch(resp.headers.get("Content-Range", ""))
            if not have or m is None or int(m.group(1)) != have:
                part.unlink(missing_ok=True)
                vpath.unlink(missing_ok=True)
                raise _Retry(
                    f"server answered range {resp.headers.get('Content-Range')!r} "
                    f"to a request from byte {have}; starting over"
                )
            mode = "ab"
        else:
            mode = "wb"  # a full body: the validator changed, or the server ignores ranges
            have = 0
            new_validator = _validator_of(resp)
            if new_validator and "\n" not in new_validator:
                vpath.write_text(new_validator + "\n")
            else:
                vpath.unlink(missing_ok=True)
        expected_len = resp.headers.get("Content-Length")
        if expected_len is not None and expected_len.isdigit():
            if dl.size is None and have + int(expected_len) > cap:
                raise _too_big(dl, cap, part)
        import urllib3

        hasher = _HashBehind(_hash_of(part) if mode == "ab" else hashlib.sha256())
        with open(part, mode) as fh:
            try:
                # read1: what has arrived, up to CHUNK (a slow server's bytes are written, and
                # resumable, as they come, not when a whole chunk has)
                while chunk := resp.raw.read1(CHUNK, decode_content=False):
                    fh.write(chunk)
                    hasher.update(chunk)
                    if on_bytes is not None:
                        on_bytes(len(chunk))
                    if fh.tell() > cap:
                        if dl.size is not None:
                            raise IntegrityError(
                                f"{dl.name}: {dl.url} sent more than the {dl.size} bytes the "
                                "lock pins",
                                "check the mirror",
                            )
                        raise _too_big(dl, cap, part)
            except urllib3.exceptions.ProtocolError as exc:
                raise _Retry(f"connection closed mid-body ({type(exc).__name__})") from None
            except urllib3.exceptions.ReadTimeoutError:
                raise _Retry("read timed out") from None
            finally:
                digest = hasher.finish()
            # no fsync: the cache seals the entry's record to this boot (infra/cache.py), so a
            # crash that loses these bytes also voids the record, and they are rehashed
        if expected_len is not None and expected_len.isdigit():
            if part.stat().st_size != have + int(expected_len):
                raise _Retry("connection closed before the end of the body")
    return digest.hexdigest()


#: the most bytes taken from the socket at a time (bench_fetch: 256 KiB with hashing on a
#: second thread beats 64 KiB and 1 MiB, inline or not)
CHUNK = 1 << 18


class _HashBehind:
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

    def finish(self) -> hashlib._Hash:
        """Wait for every chunk given so far to be hashed; the digest."""
        self._queue.put(None)
        self._thread.join()
        return self._digest


def _hash_of(part: Path) -> hashlib._Hash:
    """A sha256 fed with the bytes already in ``part`` (a resumed download)."""
    digest = hashlib.sha256()
    with open(part, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest


def _too_big(dl: Download, cap: int, part: Path) -> IntegrityError:
    part.unlink(missing_ok=True)
    _validator_path(part).unlink(missing_ok=True)
    return IntegrityError(
        f"{dl.name}: {dl.url} is larger than {cap} bytes, the limit for a download the lock "
        "does not pin yet",
        f"check the mirror; raise the limit with {MAX_ENV}=BYTES if the file is really this big",
    )


class _Retry(Exception):
    pass


class Unreachable(UpstreamError):
    """No DNS or no route to the host: retrying cannot help, other downloads stop too."""


_UNREACHABLE = (
    "NameResolutionError",
    "Name or service not known",
    "Temporary failure in name resolution",
    "nodename nor servname",
    "Network is unreachable",
    "No route to host",
)


def _unreachable(dl: Download, exc: BaseException) -> Unreachable | None:
    text = str(exc)
    if not any(n in text for n in _UNREACHABLE):
        return None
    from urllib.parse import urlsplit

    host = urlsplit(dl.url).hostname or dl.url
    why = "host name not resolved" if "Network" not in text and "route" not in text else "no route"
    name = dl.mirror or "github"
    return Unreachable(
        f"cannot reach {host} ({why}) for {dl.name}",
        f"no network here? set EMTK3S_MIRROR_{name.upper()}=URL (or --mirror {name}=URL) to a "
        "mirror you can reach, or work from the cache with --offline",
    )


def _short(exc: BaseException) -> str:
    """One short phrase for a transport error (requests' own text runs to several lines)."""
    text = str(exc)
    for needle, phrase in (
        ("NameResolutionError", "host name not resolved"),
        ("Name or service not known", "host name not resolved"),
        ("Connection refused", "connection refused"),
        ("Read timed out", "read timed out"),
        ("ConnectTimeout", "connect timed out"),
        ("IncompleteRead", "connection closed mid-body"),
        ("RemoteDisconnected", "connection closed by server"),
        ("Connection broken", "connection closed mid-body"),
        ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
    ):
        if needle in text:
            return phrase
    return " ".join(text.split())[:120]


def fetch_one(
    cache: Cache,
    dl: Download,
    policy: Policy | None = None,
    session: requests.Session | None = None,
    log: Callable[[str], None] | None = None,
    progress: _Progress | None = None,
) -> Fetched:
    policy = policy or Policy()
    validate.url(dl.url, f"URL of {dl.name}", allow_http=dl.allow_http, escapes=True)
    if dl.sha256 and cache.has(dl.sha256, dl.name):
        size = cache.blob_path(dl.sha256).stat().st_size
        return Fetched(dl.name, dl.url, dl.sha256, size, downloaded=False, attempts=0)
    import requests

    session = session or requests.Session()
    session.verify = True  # TLS verification is never turned off
    part = _partial_path(cache, dl)
    part.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(cache.lock_for(part.stem)):
        # another process may have finished it while we waited for the lock
        if dl.sha256 and cache.has(dl.sha256, dl.name):
            size = cache.blob_path(dl.sha256).stat().st_size
            return Fetched(dl.name, dl.url, dl.sha256, size, downloaded=False, attempts=0)
        attempt = 0
        while True:
            attempt += 1
            try:
                if progress is not None:
                    progress.begin(dl, part.stat().st_size if part.exists() else 0)
                streamed = _download_once(
                    session, dl, part, policy, progress.bytes_for(dl) if progress else None
                )
                break
            except requests.exceptions.SSLError:
                raise UpstreamError(
                    f"{dl.name}: TLS verification failed for {dl.url}",
                    "fix the mirror's certificate or the system CA store; verification stays on",
                ) from None
            except (
                _Retry,
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                fatal = _unreachable(dl, exc)
                if fatal is not None:  # fail fast, once: retries would only print lines
                    raise fatal from None
                if attempt > policy.retries:
                    raise UpstreamError(
                        f"{dl.name}: {dl.url} failed after {attempt} attempts: {_short(exc)}",
                        "check the network or the mirror; a rerun resumes where it stopped",
                    ) from None
                if log:
                    log(f"retry {dl.name} ({_short(exc)}); attempt {attempt + 1}")
                time.sleep(policy.backoff * (2 ** (attempt - 1)))
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    part.unlink(missing_ok=True)
                    raise EnvironmentProblem(
                        f"{dl.name}: no space left on device in {cache.root}",
                        "free disk space or point EMTK3S_CACHE elsewhere, then run again",
                    ) from None
                raise
            except requests.RequestException as exc:
                raise UpstreamError(
                    f"{dl.name}: {dl.url}: {_short(exc)}", "check the URL"
                ) from None
        size = part.stat().st_size
        if dl.size is not None and size != dl.size:
            actual = cache.quarantine(part, dl.name, "size")
            raise IntegrityError(
                f"{dl.name}: expected {dl.size} bytes, got {size}",
                f"kept aside in {actual}; check the mirror or the lock",
            )
        sha = cache.add_file(part, dl.sha256, dl.name, actual=streamed)
        _validator_path(part).unlink(missing_ok=True)
        return Fetched(dl.name, dl.url, sha, size, downloaded=True, attempts=attempt)


class _Progress:
    """On a terminal (rich): an overall bar and one line per file in flight with its bytes and
    speed. Without a terminal (CI logs): a line when a download starts and when it ends.
    Nothing when this module's logger is not enabled for INFO (the CLI's -q and --json)."""

    def __init__(self, total: int) -> None:
        self.quiet = not log.isEnabledFor(logging.INFO)
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}
        self.lock = threading.Lock()
        if not self.quiet and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TransferSpeedColumn,
            )

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                MofNCompleteColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("fetch", total=total)

    def begin(self, dl: Download, have: int) -> None:
        if self.quiet:
            return
        if self.bar is None:
            size = f" ({dl.size} bytes)" if dl.size else ""
            resumed = f", resuming at {have}" if have else ""
            log.info("fetch: downloading %s%s%s", dl.name, size, resumed)
            return
        with self.lock:
            if dl.name not in self.tasks:
                self.tasks[dl.name] = self.bar.add_task(f"  {dl.name}", total=dl.size)
            self.bar.update(self.tasks[dl.name], completed=have)

    def bytes_for(self, dl: Download) -> Callable[[int], None] | None:
        if self.bar is None:
            return None
        bar, task = self.bar, self.tasks.get(dl.name)
        if task is None:
            return None
        return lambda n: bar.update(task, advance=n)

    def done(self, f: Fetched) -> None:
        if self.bar is not None:
            with self.lock:
                task = self.tasks.pop(f.name, None)
            if task is not None:
                self.bar.remove_task(task)
            self.bar.update(self.task, advance=1)
        elif not self.quiet and f.downloaded:  # a cache hit is not news (a no-op is quiet)
            log.info("fetch: downloaded %s %s bytes sha256 %s", f.name, f.size, f.sha256)

    def log(self, line: str) -> None:
        if not self.quiet:
            (self.bar.console.print if self.bar is not None else log.info)(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def fetch_many(
    cache: Cache, downloads: Sequence[Download], policy: Policy | None = None
) -> list[Fetched]:
    """Fetch in parallel; every download is tried, then the first error is raised."""
    policy = policy or Policy()
    progress = _Progress(len(downloads))
    results: dict[int, Fetched] = {}
    errors: list[Emtk3sError] = []
    # verified cache hits need no session (and no import of requests)
    for dl in downloads:
        validate.url(dl.url, f"URL of {dl.name}", allow_http=dl.allow_http, escapes=True)
    pinned = [(i, dl) for i, dl in enumerate(downloads) if dl.sha256]
    hits = cache.has_all([(dl.sha256 or "", dl.name) for _i, dl in pinned])
    for (i, dl), hit in zip(pinned, hits, strict=True):
        if hit and dl.sha256:
            size = cache.size(dl.sha256)
            results[i] = Fetched(dl.name, dl.url, dl.sha256, size, downloaded=False, attempts=0)
            progress.done(results[i])
    todo = [(i, dl) for i, dl in enumerate(downloads) if i not in results]
    if not todo:
        progress.close()
        return [results[i] for i in range(len(downloads))]
    import requests

    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=max(policy.jobs, 10))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    try:
        with ThreadPoolExecutor(max_workers=max(1, policy.jobs)) as pool:
            futures = {
                pool.submit(fetch_one, cache, dl, policy, session, progress.log, progress): i
                for i, dl in todo
            }
            for fut in as_completed(futures):
                try:
                    res = fut.result()
                except Unreachable as exc:  # the same for every other download: stop now
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise exc from None
                except Emtk3sError as exc:
                    errors.append(exc)
                    continue
                results[futures[fut]] = res
                progress.done(res)
    finally:
        progress.close()
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(downloads))]
