"""Shallow git fetches of one tag (gitpython), into bare repositories kept in the cache."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from emtk3s.infra import checks
from emtk3s.infra.errors import Emtk3sError, InputError, UpstreamError
from emtk3s.infra.fsutil import file_lock

if TYPE_CHECKING:  # gitpython is imported when a tag is fetched, not at start-up
    import git

# Never let a remote pick a transport that runs a command, whatever the user's git config says.
# git never follows a redirect itself: emtk3s follows them first, checking every hop as it would
# check a mirror URL (resolve_redirects), and gives git the URL they end at.
_SAFE_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ALLOW_PROTOCOL": "https:http:file",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_COUNT": "2",
    "GIT_CONFIG_KEY_0": "protocol.ext.allow",
    "GIT_CONFIG_VALUE_0": "never",
    "GIT_CONFIG_KEY_1": "http.followRedirects",
    "GIT_CONFIG_VALUE_1": "false",
}
_INFO_REFS = "/info/refs?service=git-upload-pack"
MAX_REDIRECTS = 10
# The same retry policy as HTTP downloads (infra/http Policy): 4 retries, backoff 0.5 s doubling.
RETRIES = 4
BACKOFF = 0.5

# What git prints when the remote host cannot be reached at all: retrying cannot help.
_UNREACHABLE = (
    "Could not resolve host",
    "Network is unreachable",
    "No route to host",
)
# What git prints when the mirror has no such repository (smart HTTP answered 404).
_NO_REPO = ("repository '", "The requested URL returned error: 404")
# What git prints when the repository is there but the ref is not.
_NO_REF = ("couldn't find remote ref", "could not find remote ref")


def _stderr(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "stderr", exc)).split())[:300]


def _classify(url: str, what: str, err: str, hint: str) -> Emtk3sError | None:
    """The error for a git failure that a retry cannot fix, or None (transient: retry)."""
    if any(n in err for n in _UNREACHABLE):
        return UpstreamError(f"{what}: cannot reach {url}: {err}", hint)
    if any(n in err for n in _NO_REPO) and ("not found" in err or "404" in err):
        return UpstreamError(
            f"{what}: the mirror has no repository at {url} (404)",
            "check the mirror URL (EMTK3S_MIRROR_GITHUB) and that the mirror carries this "
            "repository",
        )
    return None


def _with_retries(
    run: Callable[[], str],
    url: str,
    what: str,
    hint: str,
    log: Callable[[str], None] | None = None,
) -> str:
    """Run a git network command, retrying transient failures (connection reset, early EOF,
    5xx) with the HTTP downloads' policy; a missing tag, repository or host fails at once."""
    import git

    attempt = 0
    while True:
        attempt += 1
        try:
            return run()
        except git.GitCommandError as exc:
            err = _stderr(exc)
            if any(n in err for n in _NO_REF):
                raise
            fatal = _classify(url, what, err, hint)
            if fatal is not None:
                raise fatal from None
            if attempt > RETRIES:
                raise UpstreamError(
                    f"{what} failed after {attempt} attempts: {err}", hint
                ) from None
            if log:
                log(f"retry {what} ({err[:80]}); attempt {attempt + 1}")
            time.sleep(BACKOFF * (2 ** (attempt - 1)))


def resolve_redirects(url: str, allow_http: bool = False, timeout: float = 30.0) -> str:
    """The smart-HTTP URL ``url`` ends at after redirects, every hop checked like a mirror URL
    (a refused hop is an UpstreamError). Local and file:// URLs are returned as they are; when
    the server cannot be reached, ``url`` is returned and git reports the failure."""
    if not url.startswith(("http://", "https://")):
        return url
    import requests

    current = url.rstrip("/")
    with requests.Session() as session:
        session.verify = True
        for _ in range(MAX_REDIRECTS):
            try:
                resp = session.get(
                    current + _INFO_REFS, allow_redirects=False, timeout=timeout, stream=True
                )
            except requests.RequestException:
                return current
            with resp:
                if not resp.is_redirect:
                    return current
                target = urljoin(current + _INFO_REFS, resp.headers["Location"])
            try:
                checks.url(target, f"redirect target of {url}", allow_http=allow_http)
            except InputError as exc:
                raise UpstreamError(
                    f"git remote {url} redirects to a refused URL: {exc.message}",
                    "fix the mirror; a redirect is followed only to a URL emtk3s would accept",
                ) from None
            if not target.endswith(_INFO_REFS):
                raise UpstreamError(
                    f"git remote {url} redirects to {target}, which is not a git URL", ""
                )
            current = target.removesuffix(_INFO_REFS)
    raise UpstreamError(f"git remote {url}: more than {MAX_REDIRECTS} redirects", "")


@dataclass(frozen=True)
class TagInfo:
    url: str
    tag: str
    commit: str
    commit_time: int


class TagCheckout:
    """A fetched tag: read files from its tree without a work tree."""

    def __init__(self, repo: git.Repo, info: TagInfo) -> None:
        self.repo = repo
        self.info = info

    def read(self, path: str) -> bytes:
        try:
            blob = self.repo.commit(self.info.commit).tree / path
        except KeyError:
            raise UpstreamError(
                f"{self.info.url} at {self.info.tag}: no file {path}",
                "check the tag; the upstream layout may have changed",
            ) from None
        data: bytes = blob.data_stream.read()
        return data

    def github_archive(self, prefix: str) -> bytes:
        """The tar.gz GitHub serves for this tag: `git archive --format=tar --prefix=P/` then
        `gzip -n` (checked against public records: upstream recipes' and EMT's hashes of GitHub
        archives are reproduced byte for byte)."""
        import subprocess

        if "/" in prefix or not prefix or prefix.startswith("-"):
            raise InputError(f"archive prefix {prefix!r} is not a plain name", "")
        tar = subprocess.run(
            ["git", "archive", "--format=tar", f"--prefix={prefix}/", self.info.commit],
            cwd=self.repo.git_dir,
            capture_output=True,
            check=False,
        )
        if tar.returncode != 0:
            raise UpstreamError(
                f"git archive of {self.info.tag} failed: {tar.stderr.decode()[:200]}", ""
            )
        gz = subprocess.run(["gzip", "-n", "-c"], input=tar.stdout, capture_output=True, check=True)
        return gz.stdout

    def exists(self, path: str) -> bool:
        try:
            self.repo.commit(self.info.commit).tree / path
        except KeyError:
            return False
        return True

    def list_dir(self, path: str) -> list[str]:
        try:
            tree = self.repo.commit(self.info.commit).tree / path
        except KeyError:
            return []
        return sorted(str(item.path) for item in tree.traverse())  # type: ignore[union-attr]


def _repo_dir(cache_root: Path, url: str) -> Path:
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    tail = url.rstrip("/").rsplit("/", 2)[-2:]
    name = "+".join(p.removesuffix(".git") for p in tail)
    safe = "".join(c if c.isalnum() or c in "+-_." else "_" for c in name)
    return cache_root / "git" / f"{safe}-{key}.git"


def fetch_tag(cache_root: Path, url: str, tag: str, allow_http: bool = False) -> TagCheckout:
    """Fetch ``refs/tags/<tag>`` (depth 1, that tag only) and return its commit and tree."""
    import git

    checks.git_url(url, allow_http=allow_http)
    checks.tag(tag)
    repo_dir = _repo_dir(cache_root, url)
    remote = resolve_redirects(url, allow_http)
    env = dict(_SAFE_ENV)
    with file_lock(repo_dir.with_suffix(".lock")):
        if not (repo_dir / "HEAD").exists():
            repo = git.Repo.init(repo_dir, bare=True)
        else:
            repo = git.Repo(repo_dir)
        ref = f"refs/tags/{tag}"
        try:
            _with_retries(
                lambda: str(
                    repo.git.fetch(
                        "--depth=1",
                        "--no-tags",
                        "--force",
                        "--",
                        remote,
                        f"+{ref}:{ref}",
                        env={**os.environ, **env},
                    )
                ),
                url,
                f"git fetch of {tag} from {url}",
                "check the network or the mirror URL (EMTK3S_MIRROR_GITHUB)",
            )
        except git.GitCommandError:  # only a missing ref gets here: the repository answered
            raise InputError(
                f"tag {tag} not found at {url}", "check the tag name, or the mirror's contents"
            ) from None
        commit = repo.commit(ref)
        info = TagInfo(url=url, tag=tag, commit=commit.hexsha, commit_time=commit.committed_date)
        return TagCheckout(repo, info)


def ls_remote_tags(url: str, allow_http: bool = False) -> dict[str, str]:
    """Tag name -> commit (peeled for annotated tags) of a remote, without fetching objects."""
    import git

    checks.git_url(url, allow_http=allow_http)
    remote = resolve_redirects(url, allow_http)
    out = _with_retries(
        lambda: str(
            git.cmd.Git().ls_remote("--tags", "--", remote, env={**os.environ, **_SAFE_ENV})
        ),
        url,
        f"git ls-remote {url}",
        "check the network, or set EMTK3S_MIRROR_GITHUB=URL to a mirror you can reach",
    )
    tags: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if not ref.startswith("refs/tags/"):
            continue
        name = ref.removeprefix("refs/tags/")
        if name.endswith("^{}"):
            tags[name[:-3]] = sha
        else:
            tags.setdefault(name, sha)
    return tags
