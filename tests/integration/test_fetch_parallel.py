"""fetch_many against a real HTTP server on 127.0.0.1 that counts the requests it serves at
once: a server slow to answer gets every job (-j), a fast one two, and every file arrives."""

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
from emtk3s.infra.http import Download, Policy, fetch_many


class Counting:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.now = self.most = 0
        lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:  # headers and body without a delayed-ACK stall, as nginx
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                with lock:
                    outer.now += 1
                    outer.most = max(outer.most, outer.now)
                try:
                    time.sleep(outer.delay)
                    body = _body(self.path)
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with lock:
                        outer.now -= 1

            def log_message(self, *a: object) -> None:
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.srv.server_address[1]}"

    def downloads(self, n: int) -> list[Download]:
        out = []
        for i in range(n):
            body = _body(f"/f{i}")
            sha = hashlib.sha256(body).hexdigest()
            out.append(Download(f"f{i}", f"{self.base}/f{i}", sha, len(body), allow_http=True))
        return out

    def close(self) -> None:
        self.srv.shutdown()
        self.srv.server_close()


def _body(path: str) -> bytes:
    return (path.encode() + b"\n") * 500


@pytest.fixture()
def slow() -> Iterator[Counting]:
    s = Counting(delay=0.05)
    yield s
    s.close()


@pytest.fixture()
def fast() -> Iterator[Counting]:
    s = Counting(delay=0.0)
    yield s
    s.close()


def test_a_server_slow_to_answer_gets_every_job(tmp_path: Path, slow: Counting) -> None:
    dls = slow.downloads(30)
    got = fetch_many(Cache(tmp_path / "c"), dls, Policy(jobs=6))
    assert [f.sha256 for f in got] == [d.sha256 for d in dls]
    assert slow.most == 6
    assert all(f.answered >= 0.05 for f in got)


def test_a_fast_server_on_this_host_gets_fewer_threads(tmp_path: Path, fast: Counting) -> None:
    dls = fast.downloads(60)
    got = fetch_many(Cache(tmp_path / "c"), dls, Policy(jobs=8))
    assert [f.sha256 for f in got] == [d.sha256 for d in dls]
    # two threads, and one more for each answer slower than SLOW_ANSWER (a loaded machine)
    slow_answers = sum(f.answered >= 0.02 for f in got)
    assert fast.most <= 2 + slow_answers and fast.most < 8, (fast.most, slow_answers)
    # the kernel's round-trip time of a loopback connection: well under a millisecond or so
    assert all(0 < f.rtt < 0.005 for f in got), [f.rtt for f in got]


def test_one_job_is_one_request_at_a_time(tmp_path: Path, slow: Counting) -> None:
    got = fetch_many(Cache(tmp_path / "c"), slow.downloads(4), Policy(jobs=1))
    assert len(got) == 4 and slow.most == 1
