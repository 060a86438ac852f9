"""Hostile values are refused with a clear error before they reach a spec, a URL or git; TLS
verification stays on."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from emtk3s.model.package import PACKAGES
from tests.conftest import Project, make_project

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
def test_hostile_release_values_refused(project: Project, release_lines: str, needle: str) -> None:
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
def test_hostile_mirrors_refused(project: Project, mirror: str) -> None:
    res = project.run("--mirror", mirror, "resolve", check=False)
    assert res.code == 2, res.err
    assert "Traceback" not in res.err


def test_hostile_package_flag_refused(project: Project) -> None:
    res = project.run("render", "-p", "../../etc", check=False)
    assert res.code == 2


def test_hostile_patch_name_in_template_dir_refused(project: Project, tmp_path: Path) -> None:
    tpl = tmp_path / "templates"
    home = PACKAGES[PKG].home
    assert home is not None
    shutil.copytree(home / "templates", tpl / PKG)
    (tpl / PKG / "0001-%{lua:os.execute('id')}.patch").write_text("x\n")
    project.write_release(packages=[PKG])
    shutil.copytree(tpl, project.root / "templates")
    project.run("all", "--until", "fetch")
    res = project.run("render", check=False)
    assert res.code == 2 and "could inject spec syntax" in res.err
    assert not (project.root / "SPECS" / PKG).exists()


def test_self_signed_https_mirror_is_refused(project: Project, tmp_path: Path) -> None:
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
