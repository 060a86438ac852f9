"""No shell=True and no verify=False anywhere in the code or the tests (scanned with ast)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _calls() -> list[tuple[Path, ast.Call]]:
    out = []
    for base in ("emtk3s", "tests", "bench"):
        for f in (ROOT / base).rglob("*.py"):
            tree = ast.parse(f.read_text(), str(f))
            out += [(f, n) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    return out


def test_scan_finds_calls() -> None:
    assert len(_calls()) > 200  # the scan really reads the code


def test_no_shell_true_and_no_tls_verification_off() -> None:
    bad = []
    for f, call in _calls():
        for kw in call.keywords:
            if kw.arg == "shell" and not (
                isinstance(kw.value, ast.Constant) and kw.value.value is False
            ):
                bad.append(f"{f.relative_to(ROOT)}:{call.lineno}: shell=")
            if (
                kw.arg == "verify"
                and isinstance(kw.value, ast.Constant)
                and kw.value.value is not True
            ):
                bad.append(f"{f.relative_to(ROOT)}:{call.lineno}: verify={kw.value.value!r}")
        if isinstance(call.func, ast.Attribute) and call.func.attr in ("system", "popen"):
            if isinstance(call.func.value, ast.Name) and call.func.value.id == "os":
                bad.append(f"{f.relative_to(ROOT)}:{call.lineno}: os.{call.func.attr}")
    assert bad == []
