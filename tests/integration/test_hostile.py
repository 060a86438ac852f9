"""Hostile values are refused with a clear error before they reach a spec, a URL or git; TLS
verification stays on."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from emtk3s import catalog
from emtk3s.infra.cache import Cache
from emtk3s.infra.errors import IntegrityError, UpstreamError
from emtk3s.infra.git import fetch_tag, ls_remote_tags
from emtk3s.infra.http import Download, Fetched, Policy, fetch_one
from tests.conftest import ProjectDir, make_project
from tests.fixtures.upstream import Upstream

CATALOG = catalog.load()

PKG = "k3s-iptables-helpers"


@pytest.mark.parametrize(
    "release_lines, needle",
    [
        ('k3s = "v1.32.4+k3s1\\n%post\\nrm -rf /"', "K3s tag"),
        ('k3s = "v1.32.4+k3s1"\nk3s_root = "v0.14.1%{?evil}"', "release.k3s_root"),
        ('k3s = "v1.32.4+k3s1"\nk3s_root = "$(touch /tmp/pwned)"', "release.k3s_root"),
        ('k3s = "v1.32.4+k3s1"\nk3s_root = "-upload-pack=id"', "release.k3s_root"),
        ('k3s = "v1.32.4+k3s1"\npackages = ["k3s\\nRequires: evil"]', "package name"),
        ('k3s = "v1.32.4+k3s1"\nrelease = "1%{?dist}"', "release.release"),
    ],
)
def test_hostile_release_values_refused(
    project: ProjectDir, release_lines: str, needle: str
) -> None:
    (project.root / "release.toml").write_text("[release]\n" + release_lines + "\n")
    res = project.run("resolve", check=False)
    assert res.code == 2, res.err
    assert needle in res.err and "Traceback" not in res.err
    assert len(res.err.strip().splitlines()) == 1
    assert not Path("/tmp/pwned").exists()
    assert not (project.root / "emtk3s.lock").exists()


@pytest.mark.parametrize(
    "mirror",
    [
        "github=ext::sh -c id",
        "github=-uhttps://x",
        "github=https://x/`id`",
        "github=https://x/$(id)",
        "raw=file:///etc",
    ],
)
def test_hostile_mirrors_refused(project: ProjectDir, mirror: str) -> None:
    res = project.run("--mirror", mirror, "resolve", check=False)
    assert res.code == 2, res.err
    assert "Traceback" not in res.err


def test_hostile_package_flag_refused(project: ProjectDir) -> None:
    project.run("resolve")  # else "no lock" (a precondition, exit 10) answers first
    res = project.run("render", "-p", "../../etc", check=False)
    assert res.code == 2


def test_hostile_patch_name_in_template_dir_refused(project: ProjectDir, tmp_path: Path) -> None:
    tpl = tmp_path / "templates"
    home = CATALOG.packages[PKG].home
    assert home is not None
    shutil.copytree(home / "templates", tpl / PKG)
    (tpl / PKG / "0001-%{lua:os.execute('id')}.patch").write_text("x\n")
    project.write_release(packages=[PKG])
    shutil.copytree(tpl, project.root / "templates")
    project.run("all", "--until", "fetch")
    res = project.run("render", check=False)
    assert res.code == 2 and "could inject spec syntax" in res.err
    assert not (project.root / "SPECS" / PKG).exists()


def test_self_signed_https_mirror_is_refused(project: ProjectDir, tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )

    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        project.write_release(packages=[PKG])
        project.run("resolve")
        port = srv.server_address[1]
        res = project.run(
            "--mirror", f"raw=https://127.0.0.1:{port}/raw", "fetch", "--retries", "0", check=False
        )
        assert res.code == 4, res.err
        assert "TLS verification failed" in res.err
        assert not (project.cache / "blobs").exists()
    finally:
        srv.shutdown()


def test_http_mirror_off_loopback_refused_even_from_a_lock_file(
    tmp_path: Path, upstream: object
) -> None:
    p = make_project(tmp_path / "p", upstream)  # type: ignore[arg-type]
    (p.root / "release.toml").write_text(
        '[release]\nk3s = "v1.32.4+k3s1"\n[mirrors]\nraw = "http://203.0.113.7/raw"\n'
    )
    env_free = p.run("--mirror", "raw=http://203.0.113.7/raw", "fetch", check=False)
    assert env_free.code == 2 and "plain http" in env_free.err


# --- downloads: resume, encodings, size caps, redirects -------------


class Scripted:
    """A loopback HTTP server that answers each request of /f with the next scripted reply:
    (status, headers, body, cut) — cut: close the connection after that many body bytes."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, dict[str, str], bytes, int | None]] = []
        self.seen: list[dict[str, str]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.seen.append(dict(self.headers))
                status, headers, body, cut = outer.replies.pop(0)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if cut is None else body[:cut])
                if cut is not None:
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)

            def log_message(self, *a: object) -> None:
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}/f"

    def close(self) -> None:
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture()
def scripted() -> Iterator[Scripted]:
    s = Scripted()
    yield s
    s.close()


A = bytes(range(256)) * 800  # 200 KiB, two versions of "the same" file
B = bytes(reversed(range(256))) * 800


def _fetch(tmp_path: Path, url: str, **policy: int) -> Fetched:
    pol = Policy(retries=3, backoff=0.0, timeout=5.0, **policy)
    return fetch_one(Cache(tmp_path / "cache"), Download("f.tar.gz", url, None), pol)


def _cut_first(s: Scripted, body: bytes, headers: dict[str, str]) -> None:
    s.replies.append((200, headers, body, 100_000))


def test_resume_without_a_validator_starts_over(tmp_path: Path, scripted: Scripted) -> None:
    """A .part from a server without ETag/Last-Modified is not resumed: the file changed on the
    server (B now), and a Range request would append B's tail to A's head."""
    _cut_first(scripted, A, {})
    scripted.replies.append(
        (206, {"Content-Range": f"bytes 100000-{len(B) - 1}/{len(B)}"}, B[100_000:], None)
    )
    scripted.replies.append((200, {}, B, None))
    got = _fetch(tmp_path, scripted.url)
    assert got.sha256 == hashlib.sha256(B).hexdigest()
    assert "Range" not in scripted.seen[1]


def test_resume_sends_if_range_and_takes_a_full_new_body(
    tmp_path: Path, scripted: Scripted
) -> None:
    _cut_first(scripted, A, {"ETag": '"a"'})
    scripted.replies.append((200, {"ETag": '"b"'}, B, None))  # If-Range "a" failed: whole B
    got = _fetch(tmp_path, scripted.url)
    assert (
        scripted.seen[1].get("If-Range") == '"a"' and scripted.seen[1]["Range"] == "bytes=100000-"
    )
    assert got.sha256 == hashlib.sha256(B).hexdigest()


def test_partial_content_from_the_wrong_offset_is_not_appended(
    tmp_path: Path, scripted: Scripted
) -> None:
    _cut_first(scripted, A, {"ETag": '"a"'})
    # a broken cache in front of the mirror answers 206 from byte 0
    scripted.replies.append(
        (206, {"ETag": '"a"', "Content-Range": f"bytes 0-{len(A) - 1}/{len(A)}"}, A, None)
    )
    scripted.replies.append((200, {"ETag": '"a"'}, A, None))
    got = _fetch(tmp_path, scripted.url)
    assert got.sha256 == hashlib.sha256(A).hexdigest() and got.size == len(A)
    assert "Range" not in scripted.seen[2]


def test_resume_with_a_matching_validator_appends(tmp_path: Path, scripted: Scripted) -> None:
    _cut_first(scripted, A, {"ETag": '"a"'})
    tail = A[100_000:]
    scripted.replies.append(
        (206, {"ETag": '"a"', "Content-Range": f"bytes 100000-{len(A) - 1}/{len(A)}"}, tail, None)
    )
    got = _fetch(tmp_path, scripted.url)
    assert got.sha256 == hashlib.sha256(A).hexdigest() and len(scripted.seen) == 2


def test_unrequested_content_encoding_is_refused(tmp_path: Path, scripted: Scripted) -> None:
    """1 KiB of gzip on the wire must not become a large pinned "tgz"."""
    body = gzip.compress(b"\0" * (1 << 20))
    scripted.replies.append((200, {"Content-Encoding": "gzip"}, body, None))
    with pytest.raises(UpstreamError, match="Content-Encoding gzip"):
        _fetch(tmp_path, scripted.url)
    assert scripted.seen[0].get("Accept-Encoding") == "identity"
    assert not (tmp_path / "cache" / "blobs").exists()


@pytest.mark.parametrize("length", [True, False])
def test_unpinned_download_over_the_cap_is_refused(
    tmp_path: Path, scripted: Scripted, length: bool
) -> None:
    headers = {} if length else {"Content-Length": "", "Connection": "close"}
    scripted.replies.append((200, {k: v for k, v in headers.items() if v}, A, None))
    with pytest.raises(IntegrityError, match="larger than 50000 bytes"):
        _fetch(tmp_path, scripted.url, max_unpinned=50_000)
    assert not list((tmp_path / "cache").rglob("*.part"))
    assert not (tmp_path / "cache" / "blobs").exists()


@pytest.mark.parametrize(
    "hop",
    [
        "http://user:secret@127.0.0.1:{port}/f",  # credentials
        "http://198.51.100.7/f",  # plain http off loopback
        "file:///etc/passwd",
        "ftp://127.0.0.1/f",
    ],
)
def test_every_redirect_hop_is_checked(tmp_path: Path, scripted: Scripted, hop: str) -> None:
    port = scripted.srv.server_address[1]
    scripted.replies.append((302, {"Location": hop.format(port=port)}, b"", None))
    scripted.replies.append((302, {"Location": scripted.url}, b"", None))  # back to the mirror
    scripted.replies.append((200, {}, A, None))
    with pytest.raises(UpstreamError, match="redirects to a refused URL"):
        _fetch(tmp_path, scripted.url)
    assert len(scripted.seen) == 1


def test_redirect_to_file_url_is_a_one_line_upstream_error(
    project: ProjectDir, scripted: Scripted
) -> None:
    scripted.replies += [(302, {"Location": "file:///etc/passwd"}, b"", None)] * 20
    project.write_release(packages=[PKG])
    project.run("resolve")
    base = scripted.url.removesuffix("/f")
    res = project.run("--mirror", f"raw={base}/raw", "fetch", "--retries", "0", check=False)
    assert res.code == 4, res.err
    assert "internal error" not in res.err and "Traceback" not in res.err
    last = res.err.strip().splitlines()[-1]  # progress lines come before the one error line
    assert last.startswith("emtk3s fetch: error:") and "file:///etc/passwd" in last


def test_size_cap_is_configurable_from_the_environment(project: ProjectDir) -> None:
    project.write_release(packages=[PKG])
    project.run("resolve")
    lock = project.lock  # unpin LICENSE (315 kB): its first download is capped
    src = next(s for s in lock["packages"][PKG]["sources"] if s["name"].endswith("LICENSE"))
    src.update(sha256=None, size=None, pinned=False, origin="")
    (project.root / "emtk3s.lock").write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    env = {**project.env(), "EMTK3S_MAX_DOWNLOAD": "100000"}
    proc = subprocess.run(
        [sys.executable, "-m", "emtk3s", "-C", str(project.root), "fetch"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 3, proc.stderr
    assert "EMTK3S_MAX_DOWNLOAD" in proc.stderr and "Traceback" not in proc.stderr
    env["EMTK3S_MAX_DOWNLOAD"] = "lots"
    bad = subprocess.run(
        [sys.executable, "-m", "emtk3s", "-C", str(project.root), "fetch"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2 and "EMTK3S_MAX_DOWNLOAD" in bad.stderr


# --- git: no redirect git would follow on its own --------------------------------


def _git_redirect(scripted: Scripted, target: str, n: int = 3) -> str:
    scripted.replies += [
        (302, {"Location": target + "/info/refs?service=git-upload-pack"}, b"", None)
    ] * n
    return scripted.url.removesuffix("/f") + "/moved/k3s-root.git"


def test_git_redirect_through_a_refused_url_is_not_followed(
    tmp_path: Path, scripted: Scripted, upstream: Upstream
) -> None:
    real = f"{upstream.base}/k3s-io/k3s-root.git"
    hostile = real.replace("http://", "http://user:secret@")
    url = _git_redirect(scripted, hostile)
    with pytest.raises(UpstreamError, match="redirects to a refused URL"):
        fetch_tag(tmp_path / "cache", url, "v0.14.1")
    with pytest.raises(UpstreamError, match="redirects to a refused URL"):
        ls_remote_tags(url)


def test_git_redirect_to_an_acceptable_url_is_followed_by_emtk3s(
    tmp_path: Path, scripted: Scripted, upstream: Upstream
) -> None:
    real = f"{upstream.base}/k3s-io/k3s-root.git"
    url = _git_redirect(scripted, real)
    co = fetch_tag(tmp_path / "cache", url, "v0.14.1")
    assert len(co.info.commit) == 40
    assert "v0.14.1" in ls_remote_tags(url)


def test_git_itself_never_follows_redirects(scripted: Scripted, upstream: Upstream) -> None:
    """git runs with the environment emtk3s gives it: a redirect git meets is not followed."""
    from emtk3s.infra import git as git_mod

    real = f"{upstream.base}/k3s-io/k3s-root.git"
    scripted.replies += [
        (302, {"Location": real + "/info/refs?service=git-upload-pack"}, b"", None)
    ] * 3
    url = scripted.url.removesuffix("/f") + "/moved/k3s-root.git"
    env = {**os.environ, **git_mod._SAFE_ENV}
    proc = subprocess.run(["git", "ls-remote", "--tags", url], env=env, capture_output=True)
    assert proc.returncode != 0 and b"v0.14.1" not in proc.stdout


def test_small_pinned_download_is_restarted_never_resumed(
    tmp_path: Path, scripted: Scripted
) -> None:
    """A pinned body under RESUME_MIN keeps no validator and trusts none it finds: a cut one,
    or a partial file a crash left with a validator beside it, starts over from byte 0."""
    small = A[:60_000]
    sha = hashlib.sha256(small).hexdigest()
    part = tmp_path / "cache" / "partial" / f"{sha}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(B[:20_000])  # another version's head...
    part.with_suffix(".validator").write_text('"a"\n')  # ...and a validator that matches
    scripted.replies.append((200, {"ETag": '"a"'}, small, 30_000))  # cut
    scripted.replies.append((200, {"ETag": '"a"'}, small, None))
    pol = Policy(retries=3, backoff=0.0, timeout=5.0)
    got = fetch_one(Cache(tmp_path / "cache"), Download("f", scripted.url, sha, len(small)), pol)
    assert got.sha256 == sha and got.size == len(small) and got.attempts == 2
    assert ["Range" in seen for seen in scripted.seen] == [False, False]
    assert not list(part.parent.iterdir()), "no partial file or validator left"
