"""The sandbox's seccomp program (infra/seccomp.py), run syscall by syscall through a small
classic-BPF interpreter: what it denies, with which errno, on both architectures, and that
everything else is allowed."""

from __future__ import annotations

import errno
import struct

import pytest

from emtk3s.infra import seccomp

ALLOW = seccomp.RET_ALLOW


def _errno(e: int) -> int:
    return 0x00050000 | e


def run_bpf(prog: bytes, nr: int, arch: int, args: tuple[int, ...] = ()) -> int:
    """Evaluate the filter on one struct seccomp_data (the instructions the program uses)."""
    argv = list(args) + [0] * (6 - len(args))
    data = struct.pack("=iIQ6Q", nr, arch, 0, *argv)
    ins = [struct.unpack_from("=HBBI", prog, i) for i in range(0, len(prog), 8)]
    pc, acc = 0, 0
    for _ in range(10_000):
        code, jt, jf, k = ins[pc]
        if code == 0x20:  # ld [k]
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code == 0x06:  # ret k
            return k
        elif code in (0x15, 0x35, 0x45):  # jeq, jge, jset
            taken = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += 1 + (jt if taken else jf)
        else:
            raise AssertionError(f"unexpected BPF opcode {code:#x}")
    raise AssertionError("the filter did not return")


PROG = seccomp.program()
ARCHES = {"x86_64": seccomp.AUDIT_ARCH_X86_64, "aarch64": seccomp.AUDIT_ARCH_AARCH64}


@pytest.mark.parametrize("arch", ARCHES)
def test_every_denied_syscall_gets_its_errno(arch: str) -> None:
    nrs = seccomp.NUMBERS[arch]
    for name, e in seccomp.DENY.items():
        if name in nrs:
            assert run_bpf(PROG, nrs[name], ARCHES[arch]) == _errno(e), name


@pytest.mark.parametrize("arch", ARCHES)
def test_other_syscalls_are_allowed(arch: str) -> None:
    denied = {nr for name, nr in seccomp.NUMBERS[arch].items() if name in seccomp.DENY}
    for nr in range(0, 460):
        if nr not in denied:
            assert run_bpf(PROG, nr, ARCHES[arch]) == ALLOW, nr


@pytest.mark.parametrize("arch", ARCHES)
def test_new_user_namespaces_are_denied_other_clones_allowed(arch: str) -> None:
    nrs, a = seccomp.NUMBERS[arch], ARCHES[arch]
    for call in ("clone", "unshare"):
        assert run_bpf(PROG, nrs[call], a, (seccomp.CLONE_NEWUSER | 0x11,)) == _errno(errno.EPERM)
        assert run_bpf(PROG, nrs[call], a, (0x01200011,)) == ALLOW  # fork()'s flags
    assert run_bpf(PROG, nrs["clone3"], a) == _errno(errno.ENOSYS)


@pytest.mark.parametrize("arch", ARCHES)
def test_terminal_injection_ioctls_are_denied(arch: str) -> None:
    nr, a = seccomp.NUMBERS[arch]["ioctl"], ARCHES[arch]
    assert run_bpf(PROG, nr, a, (0, seccomp.TIOCSTI)) == _errno(errno.EPERM)
    assert run_bpf(PROG, nr, a, (0, seccomp.TIOCLINUX)) == _errno(errno.EPERM)
    assert run_bpf(PROG, nr, a, (0, 0x5401)) == ALLOW  # TCGETS


def test_other_abis_get_enosys() -> None:
    x32_getpid = seccomp.X32_SYSCALL_BIT + 39
    assert run_bpf(PROG, x32_getpid, seccomp.AUDIT_ARCH_X86_64) == _errno(errno.ENOSYS)
    for arch in (0x40000003, 0x40000028):  # AUDIT_ARCH_I386, AUDIT_ARCH_ARM
        assert run_bpf(PROG, 20, arch) == _errno(errno.ENOSYS)


def test_the_listed_families_are_all_denied() -> None:
    for name in (
        "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "ptrace", "mount",
        "umount2", "fsopen", "fsmount", "move_mount", "open_tree", "pivot_root", "kexec_load",
        "kexec_file_load", "init_module", "finit_module", "delete_module", "clock_settime",
        "settimeofday", "adjtimex", "clock_adjtime", "setns",
    ):  # fmt: skip
        assert name in seccomp.DENY, name
