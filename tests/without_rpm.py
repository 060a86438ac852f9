"""Run pytest on this machine as if it had no rpm tools and no rpm Python bindings.

    python -m tests.without_rpm [pytest arguments]     (run-tests.sh: ... tests/unit)

The unit tier must pass on a machine without rpm; this machine has it, so the run takes rpm away
for every process of the run rather than trusting that nothing reaches it. Changing PATH would
not do: a test (or emtk3s) that sets PATH=/usr/bin itself, or runs /usr/bin/rpmbuild by path,
would still reach it. So pytest runs in a private mount namespace (``unshare --mount``; with
``--map-root-user`` when not root) in which:

- every program of the rpm family (``rpm*``: rpm, rpmbuild, rpmspec, rpmlint, rpm2cpio...;
  createrepo_c and its siblings; mock) in the PATH directories and the usual bin directories is
  covered by an empty file without execute bits: ``shutil.which`` finds nothing, running one by
  path fails;
- every system site-packages directory that holds the rpm bindings is covered by a copy of
  itself (symbolic links to its entries) without ``rpm`` and ``rpmlint``: no interpreter of the
  machine imports them, and the ``rpm`` shim from PyPI in the virtual environment (which loads
  the system's bindings) raises ImportError, as it does on a machine without python3-rpm.

Nothing outside the namespace changes. Before pytest starts, a fresh interpreter checks that
``import rpm`` fails and that no rpm program is found or runs; if rpm is still reachable the run
stops (exit 2), so a green run means the tier really ran without rpm.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: set for the re-run inside the namespace (its value: the work directory); not EMTK3S_*, which
#: emtk3s warns about when it does not know the name
INSIDE = "TESTS_WITHOUT_RPM_WORK"

# Programs a machine without rpm lacks (rpm, rpm-build, rpmlint, createrepo-c, mock packages).
HIDDEN_PREFIXES = ("rpm",)
HIDDEN_PROGRAMS = frozenset({"createrepo_c", "mergerepo_c", "modifyrepo_c", "sqliterepo_c", "mock"})
# What python3-rpm and rpmlint install into a site-packages directory.
HIDDEN_MODULES = ("rpm", "rpmlint")
BIN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
SITE_GLOBS = (
    "/usr/lib/python3*/dist-packages",
    "/usr/lib/python3*/site-packages",
    "/usr/lib64/python3*/site-packages",
    "/usr/local/lib/python3*/dist-packages",
    "/usr/local/lib/python3*/site-packages",
)

CHECK = """
import os, shutil, subprocess, sys
try:
    import rpm
except ImportError:
    pass
else:
    sys.exit("rpm bindings still importable: " + repr(getattr(rpm, "__file__", rpm)))
for tool in ("rpm", "rpmbuild", "rpmspec", "rpmlint", "rpm2cpio", "createrepo_c"):
    if shutil.which(tool) or shutil.which(tool, path="/usr/bin:/bin:/usr/sbin:/sbin"):
        sys.exit(tool + " is still found")
    try:
        subprocess.run(["/usr/bin/" + tool, "--version"], capture_output=True)
    except OSError:
        pass
    else:
        sys.exit("/usr/bin/" + tool + " still runs")
for py in ("/usr/bin/python3",):
    if os.path.exists(py) and subprocess.run([py, "-c", "import rpm"], capture_output=True).returncode == 0:
        sys.exit(py + " still imports rpm")
"""


def hidden_program(name: str) -> bool:
    return name.startswith(HIDDEN_PREFIXES) or name in HIDDEN_PROGRAMS


def hidden_module(name: str) -> bool:
    return any(name == m or name.startswith((m + "-", m + ".")) for m in HIDDEN_MODULES)


def bind(src: Path | str, dst: Path | str) -> None:
    subprocess.run(["mount", "--bind", str(src), str(dst)], check=True)


def hide_programs(work: Path) -> None:
    cover = work / "absent"
    cover.write_bytes(b"")
    cover.chmod(0o444)
    dirs = [*os.environ.get("PATH", "").split(os.pathsep), *BIN_DIRS]
    done: set[str] = set()
    for d in dirs:
        if not d or not os.path.isdir(d):
            continue
        for entry in os.listdir(d):
            real = os.path.realpath(os.path.join(d, entry))
            if hidden_program(entry) and os.path.isfile(real) and real not in done:
                done.add(real)
                bind(cover, real)


def hide_modules(work: Path) -> None:
    dirs = {os.path.realpath(d) for pattern in SITE_GLOBS for d in glob.glob(pattern)}
    for n, d in enumerate(sorted(dirs)):
        if not any(hidden_module(e) for e in os.listdir(d)):
            continue
        real, copy = work / f"site{n}-real", work / f"site{n}"
        real.mkdir()
        copy.mkdir()
        bind(d, real)  # the real directory stays reachable for the links
        for entry in os.listdir(real):
            if not hidden_module(entry):
                (copy / entry).symlink_to(real / entry)
        bind(copy, d)


def inside(argv: list[str]) -> int:
    work = Path(os.environ.pop(INSIDE))
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    hide_programs(work)
    hide_modules(work)
    check = subprocess.run([sys.executable, "-c", CHECK])
    if check.returncode != 0:
        print("tests/without_rpm.py: rpm is still reachable, not running", file=sys.stderr)
        return 2
    print("tests/without_rpm.py: no rpm programs, no rpm bindings (private mount namespace)")
    sys.stdout.flush()
    return subprocess.run([sys.executable, "-m", "pytest", *argv]).returncode


def main(argv: list[str]) -> int:
    if INSIDE in os.environ:
        return inside(argv)
    unshare = shutil.which("unshare")
    if unshare is None:
        print("tests/without_rpm.py: unshare is missing (util-linux)", file=sys.stderr)
        return 2
    flags = ["--mount"] if os.geteuid() == 0 else ["--mount", "--map-root-user"]
    with tempfile.TemporaryDirectory(prefix="emtk3s-without-rpm-") as work:
        env = {**os.environ, INSIDE: work}
        cmd = [unshare, *flags, "--", sys.executable, "-m", "tests.without_rpm", *argv]
        return subprocess.run(cmd, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
