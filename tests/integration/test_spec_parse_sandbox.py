"""A spec emtk3s did not render is only ever expanded inside the sandbox: a third-party spec
dropped into SPECS/ for ``chain`` (both local backends: the graph's parse, ``rpmbuild -bs``,
the build) and an EMT checkout's spec under ``emt integrate --dry-run``. Their ``%(...)`` tries
to create a file in the host's /tmp, raise the host's kernel.printk_ratelimit and reach a host
loopback listener: nothing of it happens on the host."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from emtk3s.infra import sandbox
from tests.conftest import make_project
from tests.fixtures import chroot, cpkgs, emt_checkout
from tests.fixtures.upstream import Upstream

REPO = Path(__file__).resolve().parents[2]
PRINTK = Path("/proc/sys/kernel/printk_ratelimit")

pytestmark = [
    pytest.mark.skipif(sandbox.available() is not None, reason="no bubblewrap here"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the sysctl probe needs root to mean anything"),
]


class Trap:
    """What a hostile %(...) would leave on the host: a file, a sysctl, a connection."""

    def __init__(self) -> None:
        self.pwned = Path(f"/tmp/emtk3s-pwned-{uuid.uuid4().hex[:8]}")
        self.printk = PRINTK.read_text()
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(5)
        self.hits: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            while True:
                conn, _ = self.srv.accept()
                self.hits.append(conn.recv(64) or b"connected")
                conn.close()
        except OSError:
            return

    def shell(self) -> str:
        """Shell run by %(...): each line tries one way out, then prints a usable value."""
        port = self.srv.getsockname()[1]
        return (
            f"touch {self.pwned}; "
            f"echo $(( $(cat {PRINTK}) + 1 )) > {PRINTK}; "
            f"bash -c 'echo ESCAPED > /dev/tcp/127.0.0.1/{port}'; "
            "echo 1"
        )

    def assert_nothing_happened(self) -> None:
        assert not self.pwned.exists(), f"{self.pwned}: %(...) ran on the host"
        assert PRINTK.read_text() == self.printk, "%(...) changed the host's printk_ratelimit"
        assert self.hits == [], "%(...) reached a host loopback listener"

    def close(self) -> None:
        self.srv.close()
        self.pwned.unlink(missing_ok=True)
        if PRINTK.read_text() != self.printk:
            PRINTK.write_text(self.printk)


@pytest.fixture()
def trap() -> Iterator[Trap]:
    t = Trap()
    yield t
    t.close()


def _third_party_spec(shell: str) -> str:
    return cpkgs.HEADER.format(name="fixture-thirdparty", summary="A third-party spec").replace(
        "Release:        1%{?dist}", f"%global pwn %({shell})\nRelease:        %{{pwn}}%{{?dist}}"
    ) + (
        "BuildArch:      noarch\n\n%description\nNot rendered by emtk3s.\n\n%prep\n\n%build\n\n"
        "%install\nmkdir -p %{buildroot}%{_datadir}/fixture-thirdparty\n"
        "touch %{buildroot}%{_datadir}/fixture-thirdparty/x\n\n"
        "%files\n%{_datadir}/fixture-thirdparty/x\n\n"
        "%changelog\n* Fri Nov 08 2024 Fixture <fixture@example.invalid> - 1.0-1\n- Fixture.\n"
    )


@pytest.mark.parametrize("backend", ["rpmbuild", "chroot"])
def test_third_party_spec_in_chain_runs_nothing_on_the_host(
    tmp_path: Path, upstream: Upstream, trap: Trap, backend: str
) -> None:
    p = make_project(tmp_path / "proj", upstream)
    p.write_release(packages=["k3s-iptables-helpers"])
    spec_dir = p.root / "SPECS" / "fixture-thirdparty"
    spec_dir.mkdir(parents=True)
    (spec_dir / "fixture-thirdparty.spec").write_text(_third_party_spec(trap.shell()))
    extra = ["--nodeps"]
    if backend == "chroot":
        extra = ["--backend", "chroot", "--chroot", str(chroot.worker_chroot())]
    res = p.run("chain", "-p", "fixture-thirdparty", *extra, check=False)
    assert res.code == 0, res.err
    assert list((p.root / "RPMS").glob("noarch/fixture-thirdparty-1.0-1*.rpm"))
    trap.assert_nothing_happened()


def test_emt_checkout_spec_under_integrate_dry_run_runs_nothing_on_the_host(
    tmp_path: Path, trap: Trap
) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    for name in ("release.toml", "emtk3s.lock", "changelog.json"):
        if (REPO / name).is_file():
            shutil.copy(REPO / name, proj / name)
    for pkg in ("fuse-overlayfs", "k3s-iptables-helpers", "slirp4netns"):
        shutil.copytree(REPO / "SPECS" / pkg, proj / "SPECS" / pkg)
    emt = emt_checkout.make(tmp_path / "emt")
    spec = emt / "SPECS-EXTENDED/fuse-overlayfs/fuse-overlayfs.spec"
    text = spec.read_text()
    assert "Version:        1.14\n" in text
    spec.write_text(text.replace("Version:        1.14\n", f"Version:        %({trap.shell()})\n"))
    proc = subprocess.run(
        [sys.executable, "-m", "emtk3s", "-C", str(proj), "--json", "emt", "integrate"]
        + ["--emt-repo", str(emt), "--dry-run"],
        capture_output=True,
        text=True,
    )
    doc = json.loads(proc.stdout)
    assert doc["result"]["decisions"], proc.stderr
    trap.assert_nothing_happened()
