"""A download's policy against hostile servers, through the real HTTP client and real servers on
this machine: a 206 of a changed file is never glued to an older head, a server that trickles
bytes is stopped by an overall deadline, and a redirect into this machine's own services is
followed only from a mirror that is itself on this machine."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from emtk3s.infra.cache import Cache
from emtk3s.infra.errors import UpstreamError
from emtk3s.infra.http import Download, Policy, fetch_one
from emtk3s.infra.http.policy import check_hop
from tests.conftest import make_project
from tests.fixtures.upstream import Fault, Upstream
from tests.integration.test_hostile import A, B, Scripted, scripted  # noqa: F401

PKG = "k3s-iptables-helpers"
LICENSE = "/raw/k3s-io/k3s-root/v0.14.1/LICENSE"


def _policy(**kw: float) -> Policy:
    return Policy(**{"retries": 3, "backoff": 0.0, "timeout": 5.0, **kw})  # type: ignore[arg-type]


# --- a 206 must carry the validator the partial file was started with ------------------------


def test_206_of_a_changed_file_is_not_appended_to_the_old_head(
    tmp_path: Path,
    scripted: Scripted,  # noqa: F811
) -> None:
    """The server (or a cache before it) ignores If-Range and answers 206 from the right offset
    of a new version: the result would be A's head + B's tail, pinned as the file's hash."""
    scripted.replies.append((200, {"ETag": '"a"'}, A, 100_000))  # cut mid-body
    scripted.replies.append(
        (
            206,
            {"ETag": '"b"', "Content-Range": f"bytes 100000-{len(B) - 1}/{len(B)}"},
            B[100_000:],
            None,
        )
    )
    scripted.replies.append((200, {"ETag": '"b"'}, B, None))
    got = fetch_one(Cache(tmp_path / "c"), Download("f.tar.gz", scripted.url, None), _policy())
    assert got.sha256 == hashlib.sha256(B).hexdigest()
    assert scripted.seen[1].get("If-Range") == '"a"'
    assert "Range" not in scripted.seen[2], "the third request must start over from byte 0"


def test_206_without_the_validator_is_not_appended(
    tmp_path: Path,
    scripted: Scripted,  # noqa: F811
) -> None:
    scripted.replies.append((200, {"Last-Modified": "Mon, 01 Dec 2025 10:00:00 GMT"}, A, 100_000))
    scripted.replies.append(
        (206, {"Content-Range": f"bytes 100000-{len(B) - 1}/{len(B)}"}, B[100_000:], None)
    )
    scripted.replies.append((200, {}, B, None))
    got = fetch_one(Cache(tmp_path / "c"), Download("f.tar.gz", scripted.url, None), _policy())
    assert got.sha256 == hashlib.sha256(B).hexdigest()


def test_206_with_the_same_validator_still_resumes(
    tmp_path: Path,
    scripted: Scripted,  # noqa: F811
) -> None:
    scripted.replies.append((200, {"ETag": '"a"'}, A, 100_000))
    scripted.replies.append(
        (
            206,
            {"ETag": '"a"', "Content-Range": f"bytes 100000-{len(A) - 1}/{len(A)}"},
            A[100_000:],
            None,
        )
    )
    got = fetch_one(Cache(tmp_path / "c"), Download("f.tar.gz", scripted.url, None), _policy())
    assert got.sha256 == hashlib.sha256(A).hexdigest() and len(scripted.seen) == 2


# --- an overall deadline: a slowloris server ends with a clear error ---------------------------


def test_slowloris_server_is_stopped_by_the_deadline(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    """One byte every 0.8 s never trips a 5 s read timeout; the deadline ends it."""
    fresh_upstream.faults[LICENSE] = [Fault("drip", times=10, seconds=0.8)]
    dl = Download("LICENSE", fresh_upstream.base + LICENSE, None)
    t0 = time.monotonic()
    with pytest.raises(UpstreamError, match="did not finish within") as err:
        fetch_one(Cache(tmp_path / "c"), dl, _policy(deadline=3.0))
    assert "EMTK3S_DOWNLOAD_DEADLINE" in err.value.hint
    assert time.monotonic() - t0 < 60, "the deadline did not stop the download"
    assert not (tmp_path / "c" / "blobs").exists()


def test_slowloris_through_the_cli_is_a_one_line_error(
    fresh_upstream: Upstream, tmp_path: Path
) -> None:
    p = make_project(tmp_path / "proj", fresh_upstream)
    p.write_release(packages=[PKG])
    p.run("resolve")
    fresh_upstream.faults[LICENSE] = [Fault("drip", times=10, seconds=0.8)]
    import subprocess
    import sys

    env = {**p.env(), "EMTK3S_DOWNLOAD_DEADLINE": "2"}
    proc = subprocess.run(
        [sys.executable, "-m", "emtk3s", "-C", str(p.root), "-q", "fetch", "--retries", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert "did not finish within" in line and "LICENSE" in line, line
    bad = subprocess.run(
        [sys.executable, "-m", "emtk3s", "-C", str(p.root), "fetch"],
        capture_output=True,
        text=True,
        env={**env, "EMTK3S_DOWNLOAD_DEADLINE": "soon"},
    )
    assert bad.returncode == 2 and "EMTK3S_DOWNLOAD_DEADLINE" in bad.stderr


# --- redirects into this machine ---------------------------------------------------------------


def _own_address() -> str | None:
    """An address of this machine that is not loopback (the route to a documentation net)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
        except OSError:
            return None
        addr = s.getsockname()[0]
    return None if addr.startswith("127.") or addr == "0.0.0.0" else addr


@pytest.fixture()
def outside_mirror() -> Iterator[tuple[str, list[str]]]:
    """A mirror on a non-loopback address of this machine whose /f redirects to the Location
    in the list it yields (set by the test)."""
    addr = _own_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback IPv4 address to stand for a remote mirror")
    target: list[str] = []

    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", target[0])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a: object) -> None:
            pass

    srv = ThreadingHTTPServer((addr, 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://{addr}:{srv.server_address[1]}/f", target
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
def test_redirect_from_a_remote_mirror_into_loopback_is_refused(
    tmp_path: Path,
    scripted: Scripted,  # noqa: F811
    outside_mirror: tuple[str, list[str]],
    host: str,
) -> None:
    """A host service on loopback (here: a server holding a "secret") is out of a remote
    mirror's reach, whatever the scheme and port."""
    url, target = outside_mirror
    port = scripted.srv.server_address[1]
    target.append(f"http://{host}:{port}/f")
    scripted.replies.append((200, {}, b"secret", None))
    dl = Download("f.tar.gz", url, None, allow_http=True)  # a plain-http mirror allowed by name
    with pytest.raises(UpstreamError, match="is on this machine and the mirror is not"):
        fetch_one(Cache(tmp_path / "c"), dl, _policy())
    assert scripted.seen == [], "the loopback service was contacted"


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:8080/admin",
        "https://127.0.0.1:6443/f",
        "http://localhost/f",
        "http://[::1]:2379/f",
        "https://0.0.0.0/f",
        "https://[::ffff:127.0.0.1]/f",
        "https://metrics.localhost/f",
    ],
)
def test_redirect_from_https_mirror_to_loopback_is_refused(target: str) -> None:
    with pytest.raises(UpstreamError, match="on this machine"):
        check_hop("f", "https://github.com/a/b/f", "https://objects.example/f", target, False)


def test_redirect_within_a_loopback_mirror_is_followed(
    tmp_path: Path,
    scripted: Scripted,  # noqa: F811
) -> None:
    port = scripted.srv.server_address[1]
    scripted.replies.append((302, {"Location": f"http://localhost:{port}/f"}, b"", None))
    scripted.replies.append((200, {}, A, None))
    got = fetch_one(Cache(tmp_path / "c"), Download("f.tar.gz", scripted.url, None), _policy())
    assert got.sha256 == hashlib.sha256(A).hexdigest()
