"""Hostile specs against the build sandbox of both local backends: the chroot backend (the real
debootstrap test chroot) and the default rpmbuild backend. A %build that tries to write outside,
join the host's namespaces, reach a loopback listener, see or make host devices, write the
host's sysctls (printk_ratelimit, core_pattern) or /sys, read the kernel keyring or
/etc/shadow, ptrace a host process, make a user namespace, fork 600 processes, allocate a
10 GiB file or map 8 GiB, and leave a process behind — each attempt must fail; a build past its
wall-clock limit is killed; a build killed with SIGTERM or SIGKILL leaves no mount and no
process behind."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from emtk3s.builders import chroot as chroot_backend
from tests.conftest import ProjectDir, make_project
from tests.fixtures import chroot, cpkgs
from tests.fixtures.upstream import Upstream

HELPERS = "k3s-iptables-helpers"
PROBE = Path(__file__).parent.parent / "fixtures" / "hostile_probe.py"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the chroot backend needs root")


def _hostile_spec(name: str, build: str) -> str:
    return cpkgs.HEADER.format(name=name, summary="Hostile fixture") + (
        "Source0:        probe.py\n\n%description\nTries every way out of the build sandbox.\n\n"
        f"%prep\n\n%build\n{build}\n\n%install\nmkdir -p %{{buildroot}}%{{_datadir}}/{name}\n"
        f"touch %{{buildroot}}%{{_datadir}}/{name}/x\n\n%files\n%{{_datadir}}/{name}/x\n\n"
        "%changelog\n* Fri Nov 08 2024 Fixture <fixture@example.invalid> - 1.0-1\n- Fixture.\n"
    )


def _write(specs: Path, name: str, build: str) -> None:
    d = specs / name
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.spec").write_text(_hostile_spec(name, build))
    data = PROBE.read_bytes()
    (d / "probe.py").write_bytes(data)
    sig = {"probe.py": hashlib.sha256(data).hexdigest()}
    (d / f"{name}.signatures.json").write_text(json.dumps({"Signatures": sig}) + "\n")


def _host_processes_with(tag: str) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if tag.encode() in (d / "cmdline").read_bytes():
                    out.append(int(d.name))
            except OSError:
                continue
    return out


def _mounts_under(path: Path) -> list[str]:
    base = os.path.realpath(path)
    with open("/proc/self/mountinfo") as fh:
        return [ln.split()[4] for ln in fh if ln.split()[4].startswith(base + "/")]


class Hostile:
    def __init__(
        self,
        project: ProjectDir,
        mark: Path,
        log: str,
        hits: list[bytes],
        tag: str,
        backend: str,
        printk: str,
    ):
        self.project, self.mark, self.log, self.hits, self.tag = project, mark, log, hits, tag
        self.backend, self.printk = backend, printk

    def probe(self, name: str) -> str:
        m = re.search(rf"^PROBE {re.escape(name)} (\S+) (.*)$", self.log, re.M)
        assert m, f"probe {name} did not run:\n{self.log[-3000:]}"
        return f"{m.group(1)} {m.group(2)}"


#: the limits the hostile builds run under (small, so that the probes hit them fast)
LIMITS_ENV = {"EMTK3S_SANDBOX_PIDS": "128", "EMTK3S_SANDBOX_MEMORY": str(2 << 30)}
BACKENDS = ["chroot", "rpmbuild"]


def _backend_args(backend: str) -> list[str]:
    if backend == "chroot":
        return ["--backend", "chroot", "--chroot", str(chroot.worker_chroot())]
    return ["--backend", "rpmbuild", "--nodeps"]  # Debian's rpm database is empty


def _printk() -> str:
    return Path("/proc/sys/kernel/printk_ratelimit").read_text()


@pytest.fixture(scope="module", params=BACKENDS)
def hostile(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, upstream: Upstream
) -> Iterator[Hostile]:
    backend = str(request.param)
    tmp = tmp_path_factory.mktemp(f"hostile-{backend}")
    p = make_project(tmp / "proj", upstream)
    p.write_release(packages=[HELPERS])
    p.run("all", "--until", "validate")
    hits: list[bytes] = []
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(60)

    def serve() -> None:
        try:
            while True:
                conn, _ = srv.accept()
                hits.append(conn.recv(64))
                conn.close()
        except OSError:
            return

    threading.Thread(target=serve, daemon=True).start()
    # not beside the project: the directories above a bound work directory exist inside too
    mark = tmp_path_factory.mktemp(f"marks-{backend}") / f"escaped-{uuid.uuid4().hex[:8]}"
    tag = f"emtk3s-hostile-{uuid.uuid4().hex[:8]}"
    with open("/proc/1/cmdline", "rb") as fh:
        host_init = os.path.basename(fh.read().split(b"\0")[0].decode())
    port = srv.getsockname()[1]
    victim = subprocess.Popen(["sleep", "600"])  # a host process the build tries to ptrace
    printk = _printk()
    _write(
        p.root / "SPECS",
        "fixture-hostile",
        f"python3 %{{SOURCE0}} {mark} {port} {tag} {host_init} {victim.pid}",
    )
    try:
        res = p.run(
            "chain", "-p", "fixture-hostile", *_backend_args(backend), check=False, env=LIMITS_ENV
        )
        log = (p.root / ".emtk3s" / "logs" / "build-fixture-hostile.log").read_text(
            errors="replace"
        )
        assert res.code == 0, res.err + log[-3000:]
        time.sleep(0.5)
        yield Hostile(p, mark, log, hits, tag, backend, printk)
    finally:
        if _printk() != printk:  # an escaped probe raised it: put the host's value back
            Path("/proc/sys/kernel/printk_ratelimit").write_text(printk)
        victim.kill()
        victim.wait()
        srv.close()
        for pid in _host_processes_with(tag):
            os.kill(pid, signal.SIGKILL)


def test_build_cannot_write_outside(hostile: Hostile) -> None:
    for probe in ("write-proc-root", "write-chroot-escape", "mount"):
        assert hostile.probe(probe).startswith("contained"), hostile.probe(probe)
    assert not list(hostile.mark.parent.glob(hostile.mark.name + "*"))
    if hostile.backend == "chroot":
        assert hostile.probe("write-root").startswith("contained")
        assert not (chroot.worker_chroot() / "usr" / "share" / hostile.tag).exists()
    else:
        assert hostile.probe("write-root").startswith("contained")
        assert not (Path("/usr/share") / hostile.tag).exists()


def test_build_cannot_join_host_namespaces(hostile: Hostile) -> None:
    for ns in ("mnt", "net", "pid", "uts", "ipc"):
        assert hostile.probe(f"setns-{ns}").startswith("contained"), hostile.probe(f"setns-{ns}")
    assert hostile.probe("nsenter-write").startswith("contained")
    assert hostile.probe("host-pid1-visible").startswith("contained")


def test_build_cannot_reach_a_loopback_listener(hostile: Hostile) -> None:
    assert hostile.probe("loopback").startswith("contained"), hostile.probe("loopback")
    assert hostile.hits == []


def test_build_sees_no_host_devices(hostile: Hostile) -> None:
    assert hostile.probe("host-devices").startswith("contained"), hostile.probe("host-devices")
    assert hostile.probe("mknod").startswith("contained"), hostile.probe("mknod")


def test_build_cannot_write_host_sysctls_or_sys(hostile: Hostile) -> None:
    assert _printk() == hostile.printk, "a build changed kernel.printk_ratelimit on the host"
    for probe in ("sysctl-write", "core-pattern", "sys-write", "sys-view"):
        assert hostile.probe(probe).startswith("contained"), hostile.probe(probe)


def test_build_cannot_read_keyring_or_shadow_or_ptrace(hostile: Hostile) -> None:
    assert hostile.probe("keyring").startswith("contained"), hostile.probe("keyring")
    assert hostile.probe("proc-keys").startswith("contained"), hostile.probe("proc-keys")
    assert hostile.probe("ptrace").startswith("contained"), hostile.probe("ptrace")
    with open("/etc/shadow", "rb") as fh:
        host_shadow = hashlib.sha256(fh.read()).hexdigest()
    assert hostile.probe("shadow") != f"read {host_shadow}", "a build read the host's shadow"


def test_build_runs_with_seccomp_a_dropped_bounding_set_and_no_user_namespaces(
    hostile: Hostile,
) -> None:
    assert hostile.probe("seccomp").startswith("contained"), hostile.probe("seccomp")
    assert hostile.probe("no-new-privs").startswith("contained")
    assert hostile.probe("userns").startswith("contained"), hostile.probe("userns")
    capbnd = int(hostile.probe("capbnd").split()[1], 16)
    if hostile.backend == "chroot":  # exactly the four capabilities a root build needs
        assert capbnd == sum(1 << n for n in (0, 1, 3, 4)), hex(capbnd)  # CHOWN DAC FOWNER FSETID
    else:
        assert capbnd == 0, hex(capbnd)


def test_build_resources_are_bounded(hostile: Hostile) -> None:
    for probe in ("fork-bomb", "fallocate", "memory"):
        assert hostile.probe(probe).startswith("contained"), hostile.probe(probe)


def test_no_process_stays_behind(hostile: Hostile) -> None:
    assert hostile.probe("left-behind").startswith("contained")
    assert _host_processes_with(hostile.tag) == []


def test_no_mount_is_ever_made_in_the_host_namespace(hostile: Hostile) -> None:
    assert _mounts_under(hostile.project.root / ".emtk3s") == []


def _slow_project(tmp_path: Path, upstream: Upstream, tag: str) -> ProjectDir:
    p = make_project(tmp_path / "proj", upstream)
    p.write_release(packages=[HELPERS])
    p.run("all", "--until", "validate")
    _write(
        p.root / "SPECS",
        "fixture-slow",
        f"bash -c 'exec -a {tag} sleep 600' &\necho started\nsleep 600",
    )
    return p


def _chain_cmd(p: ProjectDir, backend: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "emtk3s",
        "-C",
        str(p.root),
        "chain",
        "-p",
        "fixture-slow",
        *_backend_args(backend),
        *extra,
    ]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_build_leaves_no_mount_and_no_process(
    tmp_path: Path, upstream: Upstream, sig: signal.Signals, backend: str
) -> None:
    tag = f"emtk3s-killed-{uuid.uuid4().hex[:8]}"
    p = _slow_project(tmp_path, upstream, tag)
    cmd = _chain_cmd(p, backend)
    proc = subprocess.Popen(cmd, env=p.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = p.root / ".emtk3s" / "logs" / "build-fixture-slow.log"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if log.exists() and "started" in log.read_text(errors="replace"):
            break
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the slow build never started")
    assert _host_processes_with(tag), "the build's sleeper should be running"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _host_processes_with(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _host_processes_with(tag) == []
    assert _project_processes(p) == []
    assert _mounts_under(p.root / ".emtk3s") == []
    # the next run sweeps the scratch tree the killed run left
    chroot_backend.sweep(p.root / ".emtk3s" / "work" / "chroots")
    assert list((p.root / ".emtk3s" / "work" / "chroots").glob("root-*")) == []


def _project_processes(p: ProjectDir) -> list[str]:
    """Processes (rpmbuild, its scripts, the sandbox) working for the project: its path in
    their command line or working directory."""
    base = str(p.root).encode()
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmdline = (d / "cmdline").read_bytes()
            cwd = os.readlink(d / "cwd").encode()
        except OSError:
            continue
        if base in cmdline or cwd.startswith(base):
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace")
            out.append(f"{d.name}: {shown}")
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_wall_clock_limit_kills_the_whole_build(
    tmp_path: Path, upstream: Upstream, backend: str
) -> None:
    tag = f"emtk3s-timeout-{uuid.uuid4().hex[:8]}"
    p = _slow_project(tmp_path, upstream, tag)
    res = p.run(
        "chain",
        "-p",
        "fixture-slow",
        *_backend_args(backend),
        check=False,
        timeout=300,
        env={"EMTK3S_SANDBOX_TIMEOUT": "5"},
    )
    assert res.code == 5, res.err
    assert "time limit (5 s)" in res.err
    assert _host_processes_with(tag) == []
    assert _project_processes(p) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_parallel_chain_leaves_no_build_running(
    tmp_path: Path, upstream: Upstream, sig: signal.Signals
) -> None:
    """SIGTERM/SIGINT (CI's cancel, ``timeout``) to ``chain -j2`` with two builds running:
    emtk3s exits and no rpmbuild of either keeps building."""
    tag = f"emtk3s-parallel-{uuid.uuid4().hex[:8]}"
    p = _slow_project(tmp_path, upstream, tag)
    _write(
        p.root / "SPECS",
        "fixture-slow2",
        f"bash -c 'exec -a {tag} sleep 600' &\necho started\nsleep 600",
    )
    cmd = [
        sys.executable,
        "-m",
        "emtk3s",
        "-C",
        str(p.root),
        "chain",
        "-p",
        "fixture-slow",
        "-p",
        "fixture-slow2",
        "-j",
        "2",
        *_backend_args("rpmbuild"),
    ]
    proc = subprocess.Popen(cmd, env=p.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    logs = [
        p.root / ".emtk3s" / "logs" / f"build-{n}.log" for n in ("fixture-slow", "fixture-slow2")
    ]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if all(f.exists() and "started" in f.read_text(errors="replace") for f in logs):
            break
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the two slow builds never started")
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 130
    deadline = time.monotonic() + 10
    while (_project_processes(p) or _host_processes_with(tag)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _project_processes(p) == []
    assert _host_processes_with(tag) == []


TRIALS = 30


def test_sigkill_trials_of_srpm_and_build_leave_no_orphan(
    tmp_path: Path, upstream: Upstream
) -> None:
    """SIGKILL of emtk3s at 30 points of srpm (rpmbuild -bs, -bp) and build (the default
    rpmbuild backend): nothing of the run stays behind, and the next run builds."""
    tag = f"emtk3s-trial-{uuid.uuid4().hex[:8]}"
    p = _slow_project(tmp_path, upstream, tag)
    left: list[str] = []
    for i in range(TRIALS):
        proc = subprocess.Popen(
            _chain_cmd(p, "rpmbuild", "--force"),
            env=p.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.3 + (i % 10) * 0.25)  # from start-up through srpm into the build
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while (_project_processes(p) or _host_processes_with(tag)) and time.monotonic() < deadline:
            time.sleep(0.1)
        left += _project_processes(p) + [str(x) for x in _host_processes_with(tag)]
        for pid in _host_processes_with(tag):
            os.kill(pid, signal.SIGKILL)
    assert left == [], f"orphans after SIGKILL: {left[:5]}"
    # no corrupt state: the same project builds once the build no longer hangs
    _write(p.root / "SPECS", "fixture-slow", "echo quick")
    p.run("chain", "-p", "fixture-slow", *_backend_args("rpmbuild"))
    assert list((p.root / "RPMS").glob("*/fixture-slow-*.rpm"))


def test_sweep_unmounts_what_an_older_version_left(tmp_path: Path) -> None:
    """An older emtk3s mounted proc, the host's /dev and an overlay in the host's namespace;
    the sweep unmounts them before anything is deleted, so host device nodes survive."""
    scratch = tmp_path / "work" / "chroots"
    old = scratch / "root-old" / "merged"
    (old / "dev").mkdir(parents=True)
    (old / "proc").mkdir()
    subprocess.run(["mount", "--bind", "/dev", str(old / "dev")], check=True)
    subprocess.run(["mount", "-t", "proc", "proc", str(old / "proc")], check=True)
    try:
        assert len(_mounts_under(scratch)) >= 2
        gone = chroot_backend.sweep(scratch)
        assert len(gone) >= 2
        assert _mounts_under(scratch) == []
        assert not (scratch / "root-old").exists()
        assert Path("/dev/null").exists()
    finally:
        for m in reversed(_mounts_under(scratch)):
            subprocess.run(["umount", "-l", m], check=False)
