"""Children in process groups that die with emtk3s (infra/procs.py): a time limit or an
interrupt kills the whole group, grandchildren included; kill_all reaches the children of
worker threads; host children carry the parent-death signal."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from emtk3s.infra import procs

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _running(tag: str) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if tag.encode() in (d / "cmdline").read_bytes():
                    out.append(int(d.name))
            except OSError:
                continue
    return out


def _gone(tag: str) -> bool:
    deadline = time.monotonic() + 10
    while _running(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _running(tag) == []


def _sleepers(tag: str) -> list[str]:
    # a grandchild in the same group, and the child itself, both carrying the tag
    return ["bash", "-c", f"(exec -a {tag} sleep 300) & exec -a {tag} sleep 300"]


def test_time_limit_kills_the_whole_group() -> None:
    tag = f"emtk3s-procs-{uuid.uuid4().hex[:8]}"
    with pytest.raises(procs.TimedOut, match="ran longer than 0.5 s"):
        procs.run(_sleepers(tag), timeout=0.5)
    assert _gone(tag)


def test_kill_all_reaches_a_worker_threads_child() -> None:
    tag = f"emtk3s-procs-{uuid.uuid4().hex[:8]}"
    codes: list[int] = []
    t = threading.Thread(target=lambda: codes.append(procs.run(_sleepers(tag)).returncode))
    t.start()
    deadline = time.monotonic() + 10
    while len(_running(tag)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_running(tag)) == 2
    procs.kill_all()
    t.join(timeout=10)
    assert codes == [-9]
    assert _gone(tag)


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs util-linux setpriv")
def test_host_children_carry_the_parent_death_signal() -> None:
    assert procs.pdeathsig_prefix()[:3] == ["setpriv", "--pdeathsig", "KILL"]
    # the child runs in a session (and so a process group) of its own, with the signal set
    probe = (
        "import ctypes, os; sig = ctypes.c_int(); "
        "ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0); "  # PR_GET_PDEATHSIG
        "print(os.getsid(0), sig.value)"
    )
    sid, sig = procs.run([sys.executable, "-c", probe], text=True).stdout.split()
    assert int(sid) != os.getsid(0)
    assert int(sig) == 9
