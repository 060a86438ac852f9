"""The one way emtk3s runs code it did not write: builds (rpmbuild in a chroot) and generators
(``go mod vendor``, an upstream Makefile) run under bubblewrap with

- their own mount, pid, network, ipc, uts (and, where the kernel allows, cgroup) namespaces;
- no capabilities but the few a build needs (:data:`BUILD_CAPS`; generators get none), dropped
  from the bounding set, with ``no_new_privs`` (setuid binaries gain nothing);
- a private minimal ``/dev`` (null, zero, full, random, urandom, tty, pts, shm) mounted
  ``nodev`` everywhere else, and a fresh ``/proc`` of the sandbox's own pid namespace with
  ``/proc/sys``, ``/proc/sysrq-trigger``, ``/proc/irq`` and ``/proc/bus`` read-only;
- nothing of the host's file system but what is bound in (a chroot, or the host's system
  directories read-only for generators, plus the working directories the caller names);
- no network at all unless the caller asks for it (a generator that must download); then the
  host's network, and the caller restricts where it goes by configuration (GOPROXY, a build system's
  primary site) — per-destination filtering is not done (see docs/reliability.md);
- death with its parent (``--die-with-parent``), and every process of the build killed when it
  ends (the pid namespace's init exits, the kernel kills the rest).

A chroot build that needs a writable copy of its root gets an overlay mounted *inside a private
mount namespace* (``unshare --mount --propagation private``) by this module's ``__main__``,
which then execs bubblewrap: the overlay exists only as long as the sandbox does, and nothing
is ever mounted in the host's namespace — a SIGKILL leaves no mount behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from emtk3s.infra.errors import EnvironmentProblem

#: What a root build inside a chroot needs: own and re-mode the files it makes (rpm, install -o,
#: cpio), read files whatever their mode. Not: mount, setns, chroot, mknod, ptrace, net admin,
#: module loading, raw I/O, or anything else of CAP_SYS_ADMIN.
BUILD_CAPS: tuple[str, ...] = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID")
#: Generators (go mod vendor, an upstream make) write only below their own working directory.
NO_CAPS: tuple[str, ...] = ()
INSIDE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Host directories a generator sees (read-only): the system's programs and libraries.
HOST_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/opt")
#: Host /etc entries a generator sees (read-only): name service, TLS trust, dynamic linker.
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
    "services",
    "ssl",
)
HOSTNAME = "emtk3s-sandbox"
OVERLAY_FAILED = 97  # exit code of the overlay helper when the kernel refuses the mount


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
    #: host's system directories read-only (generators)
    root: Path | Overlay | None = None
    binds: tuple[Bind, ...] = ()
    net: bool = False
    caps: tuple[str, ...] = NO_CAPS
    cwd: str = "/"
    env: Mapping[str, str] = field(default_factory=dict)


def available() -> str | None:
    """Why sandboxed runs are impossible here, or None when they are possible."""
    for tool in ("bwrap", "unshare", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def require() -> None:
    why = available()
    if why is not None:
        raise EnvironmentProblem(
            f"cannot sandbox builds and generators: {why}",
            "install bubblewrap and util-linux (apt-get install bubblewrap util-linux)",
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
    for name in HOST_ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return [*args, "--tmpfs", "/tmp", "--dir", "/var/tmp"]


def bwrap_args(sb: Sandbox, argv: Sequence[str]) -> list[str]:
    """The bubblewrap command line for ``argv`` in ``sb`` (without the overlay helper)."""
    args = [
        "bwrap",
        "--die-with-parent",
        "--new-session",
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
    # a fresh /proc (bwrap makes sys, sysrq-trigger, irq, bus read-only) and a minimal /dev
    args += ["--proc", "/proc", "--dev", "/dev"]
    for b in sb.binds:
        args += ["--bind" if b.writable else "--ro-bind", str(b.src), b.dest]
    args += ["--chdir", sb.cwd, "--clearenv"]
    env = {"PATH": INSIDE_PATH, "LC_ALL": "C", "TZ": "UTC", **sb.env}
    for k, v in sorted(env.items()):
        args += ["--setenv", k, v]
    return [*args, "--", *argv]


def command(sb: Sandbox, argv: Sequence[str]) -> list[str]:
    """The full command line: bubblewrap, behind the private-namespace overlay helper if the
    root is an overlay."""
    inner = bwrap_args(sb, argv)
    if not isinstance(sb.root, Overlay):
        return inner
    ov = sb.root
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        sys.executable,
        "-m",
        "emtk3s.infra.sandbox",
        str(ov.lower),
        str(ov.upper),
        str(ov.work),
        str(ov.merged),
        "--",
        *inner,
    ]


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
    proc = subprocess.run(
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
        capture_output=True,
    )
    return proc.returncode == 0


def run(
    sb: Sandbox,
    argv: Sequence[str],
    *,
    stdout: int | None = None,
    log: Path | None = None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` in ``sb``. Output goes to ``log`` (both streams) if given, else is
    captured."""
    cmd = command(sb, argv)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as fh:
            fh.write(("$ " + " ".join(argv) + "\n").encode())
            fh.flush()
            return subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, input=input)
    return subprocess.run(cmd, capture_output=True, input=input)


def _overlay_main(args: list[str]) -> int:
    """In the private mount namespace ``unshare`` made: mount the overlay, exec bubblewrap."""
    if len(args) < 6 or args[4] != "--":
        print("usage: python -m emtk3s.infra.sandbox LOWER UPPER WORK MERGED -- BWRAP…")
        return 2
    ov = Overlay(Path(args[0]), Path(args[1]), Path(args[2]), Path(args[3]))
    opts = overlay_options(ov)
    if opts is None:
        print("emtk3s sandbox: overlay paths carry , or :", file=sys.stderr)
        return OVERLAY_FAILED
    mnt = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", opts, str(ov.merged)],
        capture_output=True,
        text=True,
    )
    if mnt.returncode != 0:
        print(f"emtk3s sandbox: overlay mount failed: {mnt.stderr.strip()}", file=sys.stderr)
        return OVERLAY_FAILED
    os.execvp(args[5], args[5:])
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(_overlay_main(sys.argv[1:]))


def run_generator(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    writable: Sequence[Path],
    readable: Sequence[Path] = (),
    net: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run a generator (upstream code run at fetch or resolve time: ``go mod vendor``,
    an upstream Makefile) in a sandbox over the host's system directories, read-only, with
    only ``writable`` (and ``readable``, read-only) bound in at their own paths, no
    capabilities, and no network unless ``net``. Output is captured as text."""
    require()
    binds = [Bind(p, str(p), writable=True) for p in writable]
    binds += [Bind(p, str(p)) for p in readable if p.exists()]
    sb = Sandbox(root=None, binds=tuple(binds), net=net, caps=NO_CAPS, cwd=str(cwd), env=env)
    return subprocess.run(command(sb, argv), capture_output=True, text=True)
