"""The one way emtk3s runs code it did not write: builds (rpmbuild on the host or in a chroot),
``rpmbuild -bp`` (patch proving: a %prep may run upstream scripts), generators (``go mod vendor``,
an upstream Makefile) and every rpm parse of a spec emtk3s did not render run under bubblewrap with

- a user namespace of their own (uid and gid 0 inside; when emtk3s runs as root that is host
  uid 0 for file ownership, but every capability is one of the namespace's, never of the
  host's: ``capable()`` checks against the init namespace fail) that cannot make further user
  namespaces (``--disable-userns``), and their own mount, pid, network (loopback only), ipc,
  uts and cgroup namespaces;
- no capabilities but the few a chroot build needs (:data:`BUILD_CAPS`; everything else gets
  none), dropped from the bounding set too, with ``no_new_privs``;
- the seccomp denylist of :mod:`emtk3s.infra.seccomp` (keyring, bpf, perf, ptrace, mount
  APIs, kexec, modules, clock setting, new user namespaces, other ABIs ...);
- a fresh ``/proc`` of their own pid namespace with ``/proc/sys``, ``/proc/sysrq-trigger``,
  ``/proc/irq``, ``/proc/bus`` and ``/proc/fs`` bound read-only explicitly (bubblewrap's own
  read-only remount is skipped when its ``access(W_OK)`` check fails) and ``/proc/keys``,
  ``/proc/key-users``, ``/proc/timer_list``, ``/proc/sched_debug`` masked; a read-only
  ``/sys`` holding only ``/sys/devices/system/cpu``; a private minimal ``/dev``;
- nothing of the host's file system but what is bound in: a chroot, or the host's system
  directories read-only (:data:`HOST_SYSTEM_DIRS`, a few ``/etc`` files: never
  ``/etc/shadow``, ``/root``, ``/home``, ``/var``), plus the working directories the caller
  names; a private ``/tmp`` and ``HOME``;
- limits (:class:`Limits`): tasks (``RLIMIT_NPROC``, counted per user namespace), address
  space per process (``RLIMIT_AS``), file size (``RLIMIT_FSIZE``), no core dumps, a size-limited
  ``/tmp``, and a wall-clock time after which the whole process group is killed;
- no network at all unless the caller asks for it (a generator that must download); then the
  host's network, and the caller restricts where it goes by configuration (GOPROXY, a build
  system's primary site) — per-destination filtering is not done (see docs/reliability.md);
- death with emtk3s: its own process group (killed on SIGTERM/SIGINT and at exit,
  :mod:`emtk3s.infra.procs`), ``setpriv --pdeathsig KILL`` and ``--die-with-parent`` (a SIGKILL
  of emtk3s kills it), and every process of the sandbox killed when its command ends (the pid
  namespace's init exits, the kernel kills the rest).

A chroot build that needs a writable copy of its root gets an overlay mounted *inside a private
mount namespace* (``unshare --mount --propagation private``) by ``sandbox_helper.py``,
which then execs bubblewrap: the overlay exists only as long as the sandbox does, and nothing
is ever mounted in the host's namespace — a SIGKILL leaves no mount behind.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from emtk3s.infra import procs, seccomp
from emtk3s.infra.errors import BuildError, EnvironmentProblem

#: What a root build inside a chroot needs: own and re-mode the files it makes (rpm, install -o,
#: cpio), read files whatever their mode. Not: mount, setns, chroot, mknod, ptrace, net admin,
#: module loading, raw I/O, or anything else of CAP_SYS_ADMIN. They are the user namespace's
#: capabilities, valid only on files whose owner is mapped into it.
BUILD_CAPS: tuple[str, ...] = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID")
#: Everything else (rpmbuild on the host, -bp, generators, spec parsing) gets none.
NO_CAPS: tuple[str, ...] = ()
INSIDE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Host directories a sandbox over the host sees (read-only): programs and libraries.
HOST_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
#: Hidden from generators and spec parsing (an empty directory) unless the caller binds a path
#: below them: what a host installed beside its distribution is not theirs to see.
GENERATOR_HIDDEN = ("/usr/local", "/usr/src")
#: Host /etc entries a sandbox over the host sees (read-only): name service, TLS trust,
#: dynamic linker, rpm's configuration. Never shadow, gshadow, ssh, sudoers.
HOST_ETC = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "group",
    "host.conf",
    "hosts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "nsswitch.conf",
    "passwd",
    "pki",
    "resolv.conf",
    "rpm",
    "services",
    "ssl",
)
#: /proc entries bound read-only over the sandbox's own /proc
PROC_READONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs")
#: /proc entries hidden (an empty file bound over them)
PROC_MASKED = ("keys", "key-users", "timer_list", "sched_debug", "kcore")
#: the only part of /sys a sandbox sees (read-only): CPU topology, which make -j and Go read
SYS_VISIBLE = ("/sys/devices/system/cpu",)
HOSTNAME = "emtk3s-sandbox"
OVERLAY_FAILED = 97  # exit code of the helper when the overlay or the cgroup is refused
#: joins the cgroup and mounts the overlay before bubblewrap starts (standard library only)
HELPER = Path(__file__).with_name("sandbox_helper.py")

GIB = 1 << 30


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if raw.strip() == "":
        return default
    if not raw.strip().isdigit() or int(raw) <= 0:
        raise EnvironmentProblem(f"{name}={raw!r}: not a positive whole number", f"unset {name}")
    return int(raw)


def _mem_total() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 8 * GIB


@dataclass(frozen=True)
class Limits:
    """What one sandboxed command may use. Defaults (:func:`limits`) can be changed with
    ``EMTK3S_SANDBOX_PIDS``, ``EMTK3S_SANDBOX_MEMORY`` (bytes), ``EMTK3S_SANDBOX_FILESIZE``
    (bytes), ``EMTK3S_SANDBOX_TIMEOUT`` (seconds, builds)."""

    #: tasks (processes and threads) of the sandbox's user (RLIMIT_NPROC)
    pids: int
    #: address space of each process (RLIMIT_AS)
    memory: int
    #: the largest file a process may write (RLIMIT_FSIZE; beyond it: EFBIG/SIGXFSZ)
    file_size: int
    #: wall-clock seconds before the whole process group is killed (None: no limit)
    timeout: float | None
    #: size of the private /tmp when it is a tmpfs
    tmp_size: int = GIB


#: wall-clock defaults per kind of run (seconds)
BUILD_TIMEOUT = 6 * 3600
PREP_TIMEOUT = 3600
GENERATOR_TIMEOUT = 3600
PARSE_TIMEOUT = 300


def limits(timeout: float | None) -> Limits:
    """The default limits with ``timeout`` (builds: ``EMTK3S_SANDBOX_TIMEOUT`` overrides)."""
    cpus = os.cpu_count() or 1
    return Limits(
        pids=_env_int("EMTK3S_SANDBOX_PIDS", max(4096, 256 * cpus)),
        memory=_env_int("EMTK3S_SANDBOX_MEMORY", max(4 * GIB, _mem_total())),
        file_size=_env_int("EMTK3S_SANDBOX_FILESIZE", 8 * GIB),
        timeout=timeout,
    )


def build_limits() -> Limits:
    return limits(float(_env_int("EMTK3S_SANDBOX_TIMEOUT", BUILD_TIMEOUT)))


@dataclass(frozen=True)
class Bind:
    src: Path
    dest: str  # absolute path inside the sandbox
    writable: bool = False


@dataclass(frozen=True)
class Overlay:
    """A writable view of ``lower`` whose changes land in ``upper`` (``work`` is overlayfs's)."""

    lower: Path
    upper: Path
    work: Path
    merged: Path  # an empty directory: the mount point, only ever mounted in a private namespace


@dataclass(frozen=True)
class Sandbox:
    #: the sandbox's / : a directory (bound read-write), an :class:`Overlay`, or None for the
    #: host's system directories read-only
    root: Path | Overlay | None = None
    binds: tuple[Bind, ...] = ()
    net: bool = False
    caps: tuple[str, ...] = NO_CAPS
    cwd: str = "/"
    env: Mapping[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=build_limits)
    #: root None: host directories replaced by an empty one (generators: GENERATOR_HIDDEN)
    hide: tuple[str, ...] = ()


def available() -> str | None:
    """Why sandboxed runs are impossible here, or None when they are possible."""
    for tool in ("bwrap", "unshare", "mount", "prlimit"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return _userns_works()


@lru_cache(maxsize=1)
def _userns_works() -> str | None:
    """None when bubblewrap can make the sandbox's user namespace here, else why not."""
    proc = subprocess.run(
        [
            "bwrap",
            "--unshare-user",
            "--uid",
            "0",
            "--gid",
            "0",
            "--disable-userns",
            "--unshare-pid",
            "--ro-bind",
            "/",
            "/",
            "--",
            "true",
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return "bubblewrap cannot make a user namespace: " + " ".join(proc.stderr.split())[:200]
    return None


def require() -> None:
    why = available()
    if why is not None:
        raise EnvironmentProblem(
            f"cannot sandbox builds and generators: {why}",
            "install bubblewrap (0.8 or later) and util-linux, and allow user namespaces "
            "(sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone)",
        )


def _root_args(sb: Sandbox) -> list[str]:
    if isinstance(sb.root, Overlay):
        return ["--bind", str(sb.root.merged), "/"]
    if isinstance(sb.root, Path):
        return ["--bind", str(sb.root), "/"]
    args: list[str] = []
    for d in HOST_SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for d in _hidden(sb):
        args += ["--tmpfs", d]  # made read-only once the binds below it are in place
    for name in HOST_ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    # rpm's database, where the host has one: rpmbuild checks BuildRequires against it
    for db in ("/var/lib/rpm",):
        args += ["--ro-bind-try", db, db]
    size = str(sb.limits.tmp_size)  # a private /tmp; big temporary files go to TMPDIR
    return [*args, "--size", size, "--tmpfs", "/tmp", "--size", size, "--tmpfs", "/var/tmp"]


def _hidden(sb: Sandbox) -> list[str]:
    if sb.root is not None:
        return []
    return [d for d in sb.hide if os.path.isdir(d) and not os.path.islink(d)]


def _proc_sys_args() -> list[str]:
    """A fresh /proc with its host-wide knobs read-only and its secrets masked; a read-only
    /sys with only the CPU topology; a minimal /dev."""
    args = ["--proc", "/proc"]
    for name in PROC_READONLY:
        if os.path.exists(f"/proc/{name}"):
            args += ["--ro-bind", f"/proc/{name}", f"/proc/{name}"]
    for name in PROC_MASKED:
        if os.path.exists(f"/proc/{name}"):
            args += ["--ro-bind", "/dev/null", f"/proc/{name}"]
    args += ["--dev", "/dev", "--tmpfs", "/sys"]
    for d in SYS_VISIBLE:
        args += ["--ro-bind-try", d, d]
    return [*args, "--remount-ro", "/sys"]


def bwrap_args(sb: Sandbox, argv: Sequence[str], seccomp_fd: int | None = None) -> list[str]:
    """The bubblewrap command line for ``argv`` in ``sb`` (without the overlay helper)."""
    args = [
        "bwrap",
        "--die-with-parent",
        "--new-session",
        "--unshare-user",
        "--uid",
        "0",
        "--gid",
        "0",
        "--disable-userns",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        HOSTNAME,
    ]
    if not sb.net:
        args.append("--unshare-net")
    args += ["--cap-drop", "ALL"]
    for cap in sb.caps:
        args += ["--cap-add", cap]
    args += _root_args(sb)
    args += _proc_sys_args()
    for b in sb.binds:
        args += ["--bind" if b.writable else "--ro-bind", str(b.src), b.dest]
    for d in _hidden(sb):
        args += ["--remount-ro", d]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    args += ["--chdir", sb.cwd, "--clearenv"]
    env = {"PATH": INSIDE_PATH, "LC_ALL": "C", "TZ": "UTC", "HOME": "/tmp", **sb.env}
    for k, v in sorted(env.items()):
        args += ["--setenv", k, v]
    return [*args, "--", *argv]


def _limit_args(lim: Limits) -> list[str]:
    """``prlimit`` before bubblewrap: the limits every process of the sandbox inherits. The
    task count is kept per user namespace, so it counts the sandbox's own tasks (host root,
    which bubblewrap runs as, is exempt outside)."""
    return [
        "prlimit",
        f"--nproc={lim.pids}",
        f"--as={lim.memory}",
        f"--fsize={lim.file_size}",
        "--core=0",
        "--",
    ]


def command(
    sb: Sandbox, argv: Sequence[str], seccomp_fd: int | None = None, cgroup: Path | None = None
) -> list[str]:
    """The full command line: bubblewrap under its limits, behind this module's helper when
    the sandbox joins ``cgroup`` or mounts an overlay (then inside a private mount namespace)."""
    inner = [*_limit_args(sb.limits), *bwrap_args(sb, argv, seccomp_fd)]
    helper = [sys.executable, "-I", "-S", str(HELPER)]
    if cgroup is not None:
        helper += ["--cgroup", str(cgroup)]
    if not isinstance(sb.root, Overlay):
        return inner if cgroup is None else [*helper, "--", *inner]
    ov = sb.root
    opts = overlay_options(ov)
    if opts is None:
        raise EnvironmentProblem(
            f"{ov.upper}: a path with , : or \\ cannot be mounted as an overlay",
            "move the project or the cache to a plain path",
        )
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        *helper,
        "--overlay",
        opts,
        str(ov.merged),
        "--",
        *inner,
    ]


CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PREFIX = "emtk3s-sandbox-"


def _cgroup_parent() -> tuple[Path, str] | None:
    """Where a pids cgroup can be made here (the directory, and ``v1``/``v2``), or None."""
    if os.geteuid() != 0:
        return None
    v2 = CGROUP_ROOT / "cgroup.subtree_control"
    try:
        if v2.is_file() and "pids" in v2.read_text().split():
            return CGROUP_ROOT, "v2"
    except OSError:
        pass
    v1 = CGROUP_ROOT / "pids"
    if (v1 / "cgroup.procs").is_file() and os.access(v1, os.W_OK):
        return v1, "v1"
    return None


def _kill_cgroup(cg: Path) -> None:
    """SIGKILL whatever is left in ``cg`` and remove it."""
    for _ in range(50):
        try:
            pids = [int(x) for x in (cg / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            pids = []
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
        try:
            cg.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


@contextlib.contextmanager
def _pids_cgroup(lim: Limits) -> Iterator[Path | None]:
    """A cgroup whose ``pids.max`` bounds the sandbox's tasks, where emtk3s may make one
    (root); removed with everything still in it afterwards. None elsewhere (then
    RLIMIT_NPROC, which binds a non-root user, is the bound)."""
    where = _cgroup_parent()
    if where is None:
        yield None
        return
    parent, _kind = where
    _sweep_cgroups(parent)
    cg = parent / f"{CGROUP_PREFIX}{os.getpid()}-{next(_cgroup_seq)}"
    try:
        cg.mkdir()
        (cg / "pids.max").write_text(f"{lim.pids}\n")
    except OSError:
        with contextlib.suppress(OSError):
            cg.rmdir()
        yield None
        return
    try:
        yield cg
    finally:
        _kill_cgroup(cg)


_cgroup_seq = itertools.count()


def _sweep_cgroups(parent: Path) -> None:
    """Remove the cgroups of emtk3s processes that no longer run (a SIGKILLed run's)."""
    for cg in parent.glob(f"{CGROUP_PREFIX}*"):
        owner = cg.name[len(CGROUP_PREFIX) :].split("-")[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            _kill_cgroup(cg)


@contextlib.contextmanager
def _seccomp_fd() -> Iterator[int]:
    """The filter in an anonymous file, for bubblewrap to read (``--seccomp FD``)."""
    fd = os.memfd_create("emtk3s-seccomp")
    try:
        os.write(fd, seccomp.program())
        os.lseek(fd, 0, os.SEEK_SET)
        yield fd
    finally:
        os.close(fd)


def overlay_options(ov: Overlay) -> str | None:
    """overlayfs mount options, or None when a path cannot be written in them."""
    paths = [str(ov.lower), str(ov.upper), str(ov.work)]
    if any(c in p for p in paths for c in ",:\\\n"):
        return None
    return f"lowerdir={paths[0]},upperdir={paths[1]},workdir={paths[2]}"


def overlay_works(ov: Overlay) -> bool:
    """Whether the kernel mounts this overlay (tried in a throwaway private mount namespace)."""
    opts = overlay_options(ov)
    if opts is None:
        return False
    proc = procs.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            opts,
            str(ov.merged),
        ],
        timeout=60,
    )
    return proc.returncode == 0


def run(
    sb: Sandbox,
    argv: Sequence[str],
    *,
    log: Path | None = None,
    input: bytes | None = None,
    text: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` in ``sb``. Output goes to ``log`` (both streams) if given, else is
    captured. Past ``sb.limits.timeout`` the whole sandbox is killed and a BuildError
    names the limit."""
    require()
    with _seccomp_fd() as fd, _pids_cgroup(sb.limits) as cg:
        cmd = command(sb, argv, fd, cg)
        try:
            if log is None:
                return procs.run(
                    cmd, input=input, pass_fds=(fd,), timeout=sb.limits.timeout, text=text
                )
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "ab") as fh:
                fh.write(("$ " + " ".join(argv) + "\n").encode())
                fh.flush()
                return procs.run(
                    cmd,
                    input=input,
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    pass_fds=(fd,),
                    timeout=sb.limits.timeout,
                )
        except procs.TimedOut as exc:
            where = f"; log: {log}" if log is not None else ""
            raise BuildError(
                f"{Path(argv[0]).name} ran past the sandbox's time limit "
                f"({exc.seconds:g} s) and was killed{where}",
                "raise EMTK3S_SANDBOX_TIMEOUT (seconds) if the build needs longer",
            ) from None


def host_view(
    *,
    cwd: Path,
    env: Mapping[str, str],
    writable: Sequence[Path] = (),
    readable: Sequence[Path] = (),
    net: bool = False,
    hide: Sequence[str] = GENERATOR_HIDDEN,
    lim: Limits | None = None,
) -> Sandbox:
    """A sandbox over the host's system directories, read-only, with only ``writable`` (and
    ``readable``, read-only) bound in at their own paths, no capabilities, no network unless
    ``net``."""
    binds = [Bind(p, str(p), writable=True) for p in writable]
    binds += [Bind(p, str(p)) for p in readable if p.exists()]
    return Sandbox(
        root=None,
        binds=tuple(binds),
        net=net,
        caps=NO_CAPS,
        cwd=str(cwd),
        env=env,
        limits=lim or limits(GENERATOR_TIMEOUT),
        hide=tuple(hide),
    )


def run_generator(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    writable: Sequence[Path],
    readable: Sequence[Path] = (),
    net: bool = False,
    timeout: float = GENERATOR_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run a generator (upstream code run at fetch or resolve time: ``go mod vendor``,
    an upstream Makefile) in a sandbox over the host's system directories (without
    :data:`GENERATOR_HIDDEN`), read-only, with only ``writable`` (and ``readable``, read-only)
    bound in at their own paths, no capabilities, and no network unless ``net``. Output is
    captured as text."""
    sb = host_view(
        cwd=cwd, env=env, writable=writable, readable=readable, net=net, lim=limits(timeout)
    )
    return run(sb, argv, text=True)  # type: ignore[return-value]
