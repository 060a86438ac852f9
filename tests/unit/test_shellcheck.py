"""Every shell script under tests/data/ (the upstream stand-ins the fixtures serve) passes
shellcheck: a file whose first line is a shell shebang (sh, bash, dash, ksh, directly or through
env) or whose name ends in .sh. A finding is fixed, or disabled inline with its reason."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
SHEBANG = re.compile(rb"#!\s*(/usr)?/bin/(env\s+)?(sh|bash|dash|ksh)\b")


def shell_scripts(root: Path) -> list[Path]:
    out = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.is_symlink():
            continue
        with open(p, "rb") as fh:
            first = fh.readline()
        if p.suffix == ".sh" or SHEBANG.match(first):
            out.append(p)
    return out


def shellcheck(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("shellcheck")
    if exe is None:
        pytest.fail("shellcheck is missing: run ./install.sh (it installs it with apt-get)")
    # the dialect from each file's shebang; --shell=sh for a .sh file without one
    with_shebang = [p for p in paths if p.read_bytes().startswith(b"#!")]
    without = [p for p in paths if p not in with_shebang]
    out, err, code = "", "", 0
    for group, flags in ((with_shebang, []), (without, ["--shell=sh"])):
        if group:
            proc = subprocess.run(
                [exe, *flags, "--format=gcc", *map(str, group)], capture_output=True, text=True
            )
            out, err, code = out + proc.stdout, err + proc.stderr, code or proc.returncode
    return subprocess.CompletedProcess([exe], code, out, err)


def test_every_shell_script_under_tests_data_passes_shellcheck() -> None:
    scripts = shell_scripts(DATA)
    names = {p.relative_to(DATA).as_posix() for p in scripts}
    # the finder finds what it must (a shebang through env, a plain #!/bin/sh, no suffix)
    assert {
        "k3s-root/scripts/package",
        "k3s-root/iptables-detect/iptables-detect.sh",
        "buildroot/support/dependencies/check-host-tar.sh",
        "autotools/autogen.sh",
    } <= names, names
    proc = shellcheck(scripts)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_shellcheck_reports_a_finding(tmp_path: Path) -> None:
    """The check above can fail: a script with an unquoted expansion is reported."""
    bad = tmp_path / "bad"
    bad.write_text("#!/bin/sh\nrm -rf $1/*\n")
    assert shell_scripts(tmp_path) == [bad]
    proc = shellcheck([bad])
    assert proc.returncode != 0 and "SC2086" in proc.stdout, proc.stdout
