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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


def partial_path(cache: Cache, dl: Download) -> Path:
    key = dl.sha256 or hashlib.sha256(dl.url.encode()).hexdigest()
    return cache.partial_dir / f"{key}.part"


def _open_locked(part: Path) -> int:
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
            return fd
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
    """:func:`fetch_one` of a download whose URL is checked and which was not in the cache."""
    part = partial_path(cache, dl)
    fd = _open_locked(part)
    done = False
    try:
        # another process may have finished it while we waited for the lock
        hit = _hit(cache, dl)
        if hit is not None:
            part.unlink(missing_ok=True)
            done = True
            return hit
        got = _download(cache, dl, policy, transport, fd, part, log, progress)
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
    fd: int,
    part: Path,
    log: Callable[[str], None] | None,
    progress: FetchProgress | None,
) -> Fetched:
    import urllib3

    deadline = Deadline(policy, dl.size)
    attempt = 0
    while True:
        attempt += 1
        try:
            if progress is not None:
                progress.begin(dl.name, dl.size, os.fstat(fd).st_size)
            streamed = download_once(
                transport,
                dl,
                fd,
                part,
                policy,
                deadline,
                progress.bytes_for(dl.name) if progress else None,
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
    size = os.fstat(fd).st_size
    if dl.size is not None and size != dl.size:
        actual = cache.quarantine(part, dl.name, "size")
        raise IntegrityError(
            f"{dl.name}: expected {dl.size} bytes, got {size}",
            f"kept aside in {actual}; check the mirror or the lock",
        )
    sha = cache.add_file(part, dl.sha256, dl.name, actual=streamed.sha256)
    if streamed.validator:  # (download_once removed any other)
        validator_path(part).unlink(missing_ok=True)
    return Fetched(dl.name, dl.url, sha, size, downloaded=True, attempts=attempt)


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
    from concurrent.futures import ThreadPoolExecutor, as_completed

    transport = shared(policy.jobs)
    cache.partial_dir.mkdir(parents=True, exist_ok=True)

    def one(dl: Download) -> Fetched:  # URL checked above; a pinned one was not a hit
        if dl.sha256:
            return _fetch_missing(cache, dl, policy, transport, progress.log, progress)
        return fetch_one(cache, dl, policy, transport, progress.log, progress)

    try:
        if policy.jobs <= 1 or len(todo) == 1:
            for i, dl in todo:  # no pool: one thread hands nothing over
                try:
                    res = one(dl)
                except errors.Unreachable:
                    raise
                except Emtk3sError as exc:
                    failures.append(exc)
                    continue
                results[i] = res
                progress.done(res.name, res.size, res.sha256, res.downloaded)
                if on_done is not None:
                    on_done(res)
        else:
            with ThreadPoolExecutor(max_workers=min(policy.jobs, len(todo))) as pool:
                futures = {pool.submit(one, dl): i for i, dl in todo}
                for fut in as_completed(futures):
                    try:
                        res = fut.result()
                    except errors.Unreachable as exc:  # the same for every other download
                        pool.shutdown(wait=False, cancel_futures=True)
                        raise exc from None
                    except Emtk3sError as exc:
                        failures.append(exc)
                        continue
                    results[futures[fut]] = res
                    progress.done(res.name, res.size, res.sha256, res.downloaded)
                    if on_done is not None:
                        on_done(res)
    finally:
        progress.close()
    if failures:
        raise failures[0]
    return [results[i] for i in range(len(downloads))]
