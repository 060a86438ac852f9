"""The sandbox's seccomp denylist, assembled here as a classic BPF program for
``bwrap --seccomp FD`` (no libseccomp needed).

Denied (``EPERM`` unless noted), on x86_64 and aarch64:

- the kernel keyring: ``keyctl``, ``add_key``, ``request_key``;
- kernel attack surface a build never needs: ``bpf``, ``perf_event_open``, ``userfaultfd``,
  ``io_uring_setup``/``_enter``/``_register`` (``ENOSYS``: callers fall back);
- other processes' memory: ``ptrace``, ``process_vm_readv``, ``process_vm_writev``;
- mounts: ``mount``, ``umount2``, ``fsopen``, ``fsconfig``, ``fsmount``, ``fspick``,
  ``move_mount``, ``open_tree``, ``mount_setattr``, ``pivot_root``;
- namespaces: ``setns``; ``unshare`` and ``clone`` with ``CLONE_NEWUSER``; ``clone3``
  (``ENOSYS``: its flags are behind a pointer a filter cannot read; libc falls back to clone);
- the machine: ``kexec_load``, ``kexec_file_load``, ``init_module``, ``finit_module``,
  ``delete_module``, ``reboot``, ``swapon``, ``swapoff``, ``acct``, ``quotactl``,
  ``quotactl_fd``, ``syslog``, ``lookup_dcookie``, ``vhangup``, ``open_by_handle_at``,
  ``iopl``/``ioperm`` (x86_64);
- the clock: ``clock_settime``, ``settimeofday``, ``adjtimex``, ``clock_adjtime``;
- terminal input injection: ``ioctl`` ``TIOCSTI`` and ``TIOCLINUX``;
- every other ABI (``ENOSYS``): x32 system calls on x86_64, i386 and 32-bit Arm programs
  (their numbers differ, so a denylist by number would not hold for them).
"""

from __future__ import annotations

import errno
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_AARCH64 = 0xC00000B7
X32_SYSCALL_BIT = 0x40000000
CLONE_NEWUSER = 0x10000000
TIOCSTI = 0x5412
TIOCLINUX = 0x541C

#: system call numbers (linux/arch/x86/entry/syscalls/syscall_64.tbl, asm-generic/unistd.h)
NUMBERS: dict[str, dict[str, int]] = {
    "x86_64": {
        "ioctl": 16, "clone": 56, "ptrace": 101, "syslog": 103, "vhangup": 153,
        "pivot_root": 155, "adjtimex": 159, "acct": 163, "settimeofday": 164, "mount": 165,
        "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169, "iopl": 172,
        "ioperm": 173, "init_module": 175, "delete_module": 176, "quotactl": 179,
        "lookup_dcookie": 212, "clock_settime": 227, "kexec_load": 246, "add_key": 248,
        "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298,
        "open_by_handle_at": 304, "clock_adjtime": 305, "setns": 308, "process_vm_readv": 310,
        "process_vm_writev": 311, "finit_module": 313, "kexec_file_load": 320, "bpf": 321,
        "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
        "fsconfig": 431, "fsmount": 432, "fspick": 433, "clone3": 435, "mount_setattr": 442,
        "quotactl_fd": 443,
    },
    "aarch64": {
        "lookup_dcookie": 18, "ioctl": 29, "umount2": 39, "mount": 40, "pivot_root": 41,
        "vhangup": 58, "quotactl": 60, "acct": 89, "unshare": 97, "kexec_load": 104,
        "init_module": 105, "delete_module": 106, "clock_settime": 112, "syslog": 116,
        "ptrace": 117, "reboot": 142, "settimeofday": 170, "adjtimex": 171, "add_key": 217,
        "request_key": 218, "keyctl": 219, "clone": 220, "swapon": 224, "swapoff": 225,
        "perf_event_open": 241, "open_by_handle_at": 265, "clock_adjtime": 266, "setns": 268,
        "process_vm_readv": 270, "process_vm_writev": 271, "finit_module": 273, "bpf": 280,
        "userfaultfd": 282, "kexec_file_load": 294, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "clone3": 435,
        "mount_setattr": 442, "quotactl_fd": 443,
    },
}  # fmt: skip

#: denied outright: name -> errno
DENY: dict[str, int] = {
    **dict.fromkeys(("keyctl", "add_key", "request_key"), errno.EPERM),
    **dict.fromkeys(("bpf", "perf_event_open", "userfaultfd"), errno.EPERM),
    **dict.fromkeys(("io_uring_setup", "io_uring_enter", "io_uring_register"), errno.ENOSYS),
    **dict.fromkeys(("ptrace", "process_vm_readv", "process_vm_writev"), errno.EPERM),
    **dict.fromkeys(
        (
            "mount",
            "umount2",
            "fsopen",
            "fsconfig",
            "fsmount",
            "fspick",
            "move_mount",
            "open_tree",
            "mount_setattr",
            "pivot_root",
        ),
        errno.EPERM,
    ),  # fmt: skip
    "setns": errno.EPERM,
    "clone3": errno.ENOSYS,
    **dict.fromkeys(
        (
            "kexec_load",
            "kexec_file_load",
            "init_module",
            "finit_module",
            "delete_module",
            "reboot",
            "swapon",
            "swapoff",
            "acct",
            "quotactl",
            "quotactl_fd",
            "syslog",
            "lookup_dcookie",
            "vhangup",
            "open_by_handle_at",
            "iopl",
            "ioperm",
        ),
        errno.EPERM,
    ),  # fmt: skip
    **dict.fromkeys(("clock_settime", "settimeofday", "adjtimex", "clock_adjtime"), errno.EPERM),
}
#: denied when the flags argument (argument 0) asks for a new user namespace
DENY_NEWUSER = ("clone", "unshare")
#: ioctl requests (argument 1) denied
DENY_IOCTL = (TIOCSTI, TIOCLINUX)

# classic BPF
_LD_W_ABS = 0x20
_JEQ = 0x15
_JGE = 0x35
_JSET = 0x45
_RET = 0x06
RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
_OFF_NR, _OFF_ARCH = 0, 4


def _arg_low(i: int) -> int:
    return 16 + 8 * i  # the low 32 bits (both architectures are little-endian)


class _Asm:
    """Instructions with symbolic jump targets, resolved by :meth:`assemble`."""

    def __init__(self) -> None:
        self.ins: list[tuple[int, int | str, int | str, int]] = []
        self.labels: dict[str, int] = {}

    def label(self, name: str) -> None:
        self.labels[name] = len(self.ins)

    def op(self, code: int, k: int, jt: int | str = 0, jf: int | str = 0) -> None:
        self.ins.append((code, jt, jf, k))

    def assemble(self) -> bytes:
        out = bytearray()
        for i, (code, jt, jf, k) in enumerate(self.ins):
            rel = [self.labels[t] - i - 1 if isinstance(t, str) else t for t in (jt, jf)]
            if not all(0 <= r <= 255 for r in rel):
                raise ValueError(f"seccomp jump out of range at {i}")
            out += struct.pack("=HBBI", code, rel[0], rel[1], k)
        return bytes(out)


def _errno_label(e: int) -> str:
    return f"errno-{e}"


def program() -> bytes:
    """The filter, as ``bwrap --seccomp`` reads it (an array of ``struct sock_filter``)."""
    a = _Asm()
    a.op(_LD_W_ABS, _OFF_ARCH)
    a.op(_JEQ, AUDIT_ARCH_X86_64, "x86_64")
    a.op(_JEQ, AUDIT_ARCH_AARCH64, "aarch64")
    a.op(_RET, _RET_ERRNO | errno.ENOSYS)  # i386, 32-bit Arm: another numbering
    errnos = sorted(set(DENY.values()) | {errno.EPERM, errno.ENOSYS})
    for arch, nrs in NUMBERS.items():
        a.label(arch)
        a.op(_LD_W_ABS, _OFF_NR)
        if arch == "x86_64":
            a.op(_JGE, X32_SYSCALL_BIT, _errno_label(errno.ENOSYS))
        for name, e in DENY.items():
            if name in nrs:
                a.op(_JEQ, nrs[name], _errno_label(e))
        for name in DENY_NEWUSER:
            a.op(_JEQ, nrs[name], f"{arch}-flags")
        a.op(_JEQ, nrs["ioctl"], f"{arch}-ioctl")
        a.op(_RET, RET_ALLOW)
        a.label(f"{arch}-flags")
        a.op(_LD_W_ABS, _arg_low(0))
        a.op(_JSET, CLONE_NEWUSER, _errno_label(errno.EPERM))
        a.op(_RET, RET_ALLOW)
        a.label(f"{arch}-ioctl")
        a.op(_LD_W_ABS, _arg_low(1))
        for req in DENY_IOCTL:
            a.op(_JEQ, req, _errno_label(errno.EPERM))
        a.op(_RET, RET_ALLOW)
    for e in errnos:
        a.label(_errno_label(e))
        a.op(_RET, _RET_ERRNO | e)
    return a.assemble()
