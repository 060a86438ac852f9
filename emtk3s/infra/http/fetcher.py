"""Downloads into the cache: parallel, retried with backoff, atomic, verified.

Each download streams into ``partial/<key>.part``; that file is also its lock (``flock``): two
processes never download one file at once, and no separate lock file is made per download
(file creation is most of what a small download costs on a journaling disk). A waiter that
finds the path renamed into the cache (or removed) meanwhile opens it afresh and looks in the
cache first."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import stat
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from emtk3s.infra import checks
from emtk3s.infra.cache import Cache
from emtk3s.infra.errors import Emtk3sError, EnvironmentProblem, IntegrityError, UpstreamError
from emtk3s.infra.http import errors
from emtk3s.infra.http.policy import Deadline, Policy
from emtk3s.infra.http.transport import (
    Download,
    Transport,
    download_once,
    shared,
    validator_path,
)

if TYPE_CHECKING:
    from emtk3s.infra.progress import FetchProgress


@dataclass(frozen=True)
class Fetched:
    name: str
    url: str
    sha256: str
    size: int
    downloaded: bool  # False: it was a verified cache hit
    attempts: int
    #: seconds the server took to answer the last request, and the connection's round-trip
    #: time (0 for a cache hit): how much waiting a parallel download can hide
    answered: float = field(default=0.0, compare=False)
    rtt: float = field(default=0.0, compare=False)


def partial_path(cache: Cache, dl: Download) -> Path:
    key = dl.sha256 or hashlib.sha256(dl.url.encode()).hexdigest()
    return cache.partial_dir / f"{key}.part"


@dataclass(frozen=True)
class _Locked:
    fd: int
    size: int  # of the partial file when the lock was taken
    mode: int  # its permission bits


def _open_locked(part: Path) -> _Locked:
    """The partial file, opened (created if need be) and exclusively locked, and still the
    file at ``part`` once the lock is held."""
    while True:
        try:
            fd = os.open(part, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:  # partial/ itself is new
            part.parent.mkdir(parents=True, exist_ok=True)
            continue
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            st = os.stat(part)
        except FileNotFoundError:
            st = None
        mine = os.fstat(fd)
        if st is not None and (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino):
            return _Locked(fd, mine.st_size, stat.S_IMODE(mine.st_mode))
        os.close(fd)  # renamed into the cache or removed while we waited: look again


def _hit(cache: Cache, dl: Download) -> Fetched | None:
    if dl.sha256 and cache.has(dl.sha256, dl.name):
        return Fetched(dl.name, dl.url, dl.sha256, cache.size(dl.sha256), False, 0)
    return None


def fetch_one(
    cache: Cache,
    dl: Download,
    policy: Policy | None = None,
    transport: Transport | None = None,
    log: Callable[[str], None] | None = None,
    progress: FetchProgress | None = None,
) -> Fetched:
    policy = policy or Policy()
    checks.url(dl.url, f"URL of {dl.name}", allow_http=dl.allow_http, escapes=True)
    hit = _hit(cache, dl)
    if hit is not None:
        return hit
    return _fetch_missing(cache, dl, policy, transport or shared(policy.jobs), log, progress)


def _fetch_missing(
    cache: Cache,
    dl: Download,
    policy: Policy,
    transport: Transport,
    log: Callable[[str], None] | None,
    progress: FetchProgress | None,
) -> Fetched:
    """:func:`fetch_one` of a download whose URL is checked and which was not in the cache
    (an unpinned one never is: only a sha256 finds an entry)."""
    part = partial_path(cache, dl)
    locked = _open_locked(part)
    fd = locked.fd
    done = False
    try:
        # another process may have finished it since the cache was looked in (while we waited
        # for the lock, or before we made the partial file): it is then downloaded only once
        hit = _hit(cache, dl)
        if hit is not None:
            part.unlink(missing_ok=True)
            done = True
            return hit
        got = _download(cache, dl, policy, transport, locked, part, log, progress)
        done = True  # the partial file is in the cache now
        return got
    finally:
        if not done:
            _drop_if_empty(fd, part)
        os.close(fd)


def _drop_if_empty(fd: int, part: Path) -> None:
    """Remove a partial file with nothing to resume (still ours: the lock is held)."""
    try:
        mine, there = os.fstat(fd), os.stat(part)
        if mine.st_size == 0 and (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino):
            part.unlink()
    except OSError:
        pass


def _download(
    cache: Cache,
    dl: Download,
    policy: Policy,
    transport: Transport,
    locked: _Locked,
    part: Path,
    log: Callable[[str], None] | None,
    progress: FetchProgress | None,
) -> Fetched:
    """Download into the partial file open (and locked)."""
    import urllib3

    fd, have = locked.fd, locked.size

    deadline = Deadline(policy, dl.size)
    attempt = 0
    while True:
        attempt += 1
        try:
            fresh = attempt == 1 and not have  # just created, never written through fd
            if attempt > 1:  # what the last attempt left
                have = os.fstat(fd).st_size
            if progress is not None:
                progress.begin(dl.name, dl.size, have)
            streamed = download_once(
                transport,
                dl,
                fd,
                part,
                policy,
                deadline,
                progress.bytes_for(dl.name) if progress else None,
                fresh=fresh,
            )
            break
        except (errors.Retry, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as exc:
            if errors.is_tls(exc):
                raise UpstreamError(
                    f"{dl.name}: TLS verification failed for {dl.url}",
                    "fix the mirror's certificate or the system CA store; verification stays on",
                ) from None
            fatal = errors.unreachable(dl.url, dl.name, dl.mirror, exc)
            if fatal is not None:  # fail fast, once: retries would only print lines
                raise fatal from None
            if not errors.is_transient(exc):
                raise UpstreamError(
                    f"{dl.name}: {dl.url}: {errors.short(exc)}", "check the URL"
                ) from None
            if attempt > policy.retries:
                raise UpstreamError(
                    f"{dl.name}: {dl.url} failed after {attempt} attempts: {errors.short(exc)}",
                    "check the network or the mirror; a rerun resumes where it stopped",
                ) from None
            if log:
                log(f"retry {dl.name} ({errors.short(exc)}); attempt {attempt + 1}")
            pause = policy.backoff * (2 ** (attempt - 1))
            time.sleep(max(0.0, min(pause, deadline.left())))
            deadline.check(dl.name, dl.url)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                os.ftruncate(fd, 0)
                part.unlink(missing_ok=True)
                raise EnvironmentProblem(
                    f"{dl.name}: no space left on device in {cache.root}",
                    "free disk space or point EMTK3S_CACHE elsewhere, then run again",
                ) from None
            raise
    size = streamed.size
    if dl.size is not None and size != dl.size:
        actual = cache.quarantine(part, dl.name, "size")
        raise IntegrityError(
            f"{dl.name}: expected {dl.size} bytes, got {size}",
            f"kept aside in {actual}; check the mirror or the lock",
        )
    sha = cache.add_file(part, dl.sha256, dl.name, actual=streamed.sha256, fd=fd, mode=locked.mode)
    if streamed.validator:  # (download_once removed any other)
        validator_path(part).unlink(missing_ok=True)
    return Fetched(
        dl.name,
        dl.url,
        sha,
        size,
        downloaded=True,
        attempts=attempt,
        answered=streamed.answered,
        rtt=streamed.rtt,
    )


def fetch_many(
    cache: Cache,
    downloads: Sequence[Download],
    policy: Policy | None = None,
    on_done: Callable[[Fetched], None] | None = None,
) -> list[Fetched]:
    """Fetch in parallel; every download is tried, then the first error is raised.
    ``on_done`` sees each verified file as soon as it is (in this thread), e.g. to pin it."""
    from emtk3s.infra.progress import FetchProgress

    policy = policy or Policy()
    progress = FetchProgress(len(downloads))
    results: dict[int, Fetched] = {}
    failures: list[Emtk3sError] = []
    # verified cache hits need no connection (and no import of urllib3)
    for dl in downloads:
        checks.url(dl.url, f"URL of {dl.name}", allow_http=dl.allow_http, escapes=True)
    pinned = [(i, dl) for i, dl in enumerate(downloads) if dl.sha256]
    hits = cache.has_all([(dl.sha256 or "", dl.name) for _i, dl in pinned])
    for (i, dl), hit in zip(pinned, hits, strict=True):
        if hit and dl.sha256:
            size = cache.size(dl.sha256)
            results[i] = Fetched(dl.name, dl.url, dl.sha256, size, downloaded=False, attempts=0)
            progress.done(results[i].name, results[i].size, results[i].sha256, False)
            if on_done is not None:
                on_done(results[i])
    todo = [(i, dl) for i, dl in enumerate(downloads) if i not in results]
    if not todo:
        progress.close()
        return [results[i] for i in range(len(downloads))]
    transport = shared(policy.jobs)
    cache.partial_dir.mkdir(parents=True, exist_ok=True)

    def one(dl: Download) -> Fetched:  # URL checked above; a pinned one was not a hit
        return _fetch_missing(cache, dl, policy, transport, progress.log, progress)

    runs = _run(todo, one, policy.jobs)
    try:
        with cache.batch():  # the records of every download, in one write
            try:
                for i, res in runs:
                    if isinstance(res, errors.Unreachable):  # the same for every other one
                        raise res from None
                    if isinstance(res, Emtk3sError):
                        failures.append(res)
                        continue
                    if isinstance(res, BaseException):
                        raise res
                    results[i] = res
                    progress.done(res.name, res.size, res.sha256, res.downloaded)
                    if on_done is not None:
                        on_done(res)
            finally:
                runs.close()  # on an early exit: none starts any more, those under way end
    finally:
        progress.close()
    if failures:
        raise failures[0]
    return [results[i] for i in range(len(downloads))]


#: a connection with this round-trip time, or a server this slow to answer, has waits worth
#: hiding behind other downloads (the answer time is taken in Python: it includes waiting for
#: the interpreter lock, a few milliseconds with a few threads, hence the higher bar)
LATENT_RTT = 0.005
SLOW_ANSWER = 0.02


def _run(
    todo: list[tuple[int, Download]], one: Callable[[Download], Fetched], jobs: int
) -> Generator[tuple[int, Fetched | BaseException], None, None]:
    """Each download's result (or the exception it raised), in the order they end, from up to
    ``jobs`` threads that take the next download as they finish one.

    Parallel downloads exist to hide the server's latency. Where there is little to hide (a
    mirror on the host or the LAN answers in well under a millisecond), the threads compete for
    the interpreter lock instead, and 8 of them were slower than 2 (1000 x 50 kB on loopback:
    bench_fetch.py). So two threads start, and one more (up to ``jobs``) for every download
    whose connection's round-trip time (as the kernel measures it) is LATENT_RTT or more, whose
    server took SLOW_ANSWER or more to answer, or that failed: a remote mirror has all ``jobs``
    after the first few downloads.

    Not a thread pool of futures: a future per download (its condition, its waiters,
    as_completed's bookkeeping) cost more of the interpreter lock than a small download's own
    work. When the consumer stops early (it raised), no download is started any more, and the
    ones under way are waited for: nothing is left writing into the cache."""
    if jobs <= 1 or len(todo) == 1:  # no thread: one hands nothing over
        for i, dl in todo:
            try:
                yield i, one(dl)
            except Exception as exc:
                yield i, exc
        return
    import queue
    import threading

    pending = iter(todo)
    take = threading.Lock()
    stop = threading.Event()
    out: queue.SimpleQueue[tuple[int, Fetched | BaseException]] = queue.SimpleQueue()

    def work() -> None:
        while not stop.is_set():
            with take:
                item = next(pending, None)
            if item is None:
                return
            i, dl = item
            try:
                out.put((i, one(dl)))
            except BaseException as exc:  # handed to the consumer, which decides
                out.put((i, exc))

    threads: list[threading.Thread] = []
    limit = min(jobs, len(todo))

    def spawn() -> None:
        t = threading.Thread(target=work, name=f"fetch-{len(threads)}", daemon=True)
        t.start()
        threads.append(t)

    for _ in range(min(2, limit)):
        spawn()
    try:
        for _ in range(len(todo)):
            i, res = out.get()
            if len(threads) < limit and (
                isinstance(res, BaseException)
                or not res.downloaded
                or res.rtt >= LATENT_RTT
                or res.answered >= SLOW_ANSWER
            ):
                spawn()
            yield i, res
    finally:
        stop.set()
        for t in threads:
            t.join()
