"""Run EMT's own pull-request checks, whichever the checkout holds, on our integrated specs.

| check | EMT workflow | what runs |
|---|---|---|
| spec-guidelines | check-spec.yml | ``toolkit/scripts/check_spec_guidelines.py --specs SPEC`` |
| spec-linter | lint-specs.yml | a spec-cleaner patched with ``.github/workflows/azurelinux-spec-cleaner.patch`` (``EMTK3S_SPEC_CLEANER`` or ``spec-cleaner`` on PATH); any diff fails, except the linter's own defect (below) |
| license-map | check-license-map.yml | ``toolkit/scripts/license_map.py`` in check mode over SPECS* |
| cgmanifest | check-package-cgmanifest.yml | ``.github/workflows/validate-cg-manifest.sh SPEC`` with its download step stubbed (no network) and its ``sudo`` writes kept in a scratch HOME |

A check whose script or tool is absent is reported as skipped with the reason, never as passed.

The patched linter re-emits the first %changelog entry only when it meets a second one: a spec
whose changelog has a single entry always gets a diff that deletes that entry (20 of EMT's own
specs have it). Such a diff, and only such a diff, is reported with status ``linter-defect``
and the diff itself, neither passed nor failed; EMT's reviewers see the same diff in CI.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from emtk3s.model.status import CheckStatus

SPEC_GUIDELINES = "toolkit/scripts/check_spec_guidelines.py"
LINTER_PATCH = ".github/workflows/azurelinux-spec-cleaner.patch"
LICENSE_MAP = "toolkit/scripts/license_map.py"
LICENSES_JSON = "LICENSES-AND-NOTICES/SPECS/data/licenses.json"
LICENSES_MAP = "LICENSES-AND-NOTICES/SPECS/LICENSES-MAP.md"
CGMANIFEST_CHECK = ".github/workflows/validate-cg-manifest.sh"
TIMEOUT = 600


@dataclass
class CheckResult:
    check: str
    spec: str  # relative to the checkout; "" for a checkout-wide check
    status: CheckStatus
    output: str = ""


@dataclass
class Report:
    JSON_EXTRA: ClassVar[tuple[str, ...]] = ("failed",)

    results: list[CheckResult] = field(default_factory=list)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == CheckStatus.FAILED]

    @property
    def failed(self) -> int:
        """How many checks failed (the --json key)."""
        return len(self.failures)

    def hint(self) -> str:
        """What to do about the failures: EMT's license rule wants the changelog line that
        ``emtk3s license-check`` writes after verifying the tag against the sources."""
        hint = "the output of each check is in the report"
        if any("license not verified" in r.output for r in self.failures):
            hint += (
                '; for "license not verified": emtk3s fetch, then emtk3s license-check (it '
                'verifies each License: tag against the sources and records "License '
                'verified."), then integrate again'
            )
        return hint


def python_dirs() -> list[Path]:
    """What emtk3s's own Python needs inside the sandbox to run a checkout's script (its
    environment with python-rpm-spec, and the interpreter it was made from)."""
    dirs = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent}
    return sorted(d for d in dirs if d.is_dir() and not str(d).startswith("/usr"))


def run_checkout_code(
    cmd: list[str],
    cwd: Path,
    *,
    writable: list[Path],
    readable: list[Path] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> tuple[int, str]:
    """Run a script of the EMT checkout (its code, not ours) in the sandbox (infra/sandbox.py):
    the host's system read-only, ``writable`` and ``readable`` bound at their own paths, no
    network, no capabilities. Returns the exit code and the output (124 past ``timeout``)."""
    from emtk3s.infra import sandbox
    from emtk3s.infra.errors import BuildError

    path = ":".join([*(str(d / "bin") for d in python_dirs()), sandbox.INSIDE_PATH])
    sb = sandbox.host_view(
        cwd=cwd,
        env={"PATH": path, "HOME": "/tmp", **(env or {})},
        writable=writable,
        readable=[*(readable or []), *python_dirs()],
        hide=(),
        lim=sandbox.limits(timeout),
    )
    try:
        proc = sandbox.run(sb, cmd, text=True)
    except BuildError:
        return 124, f"timed out after {timeout}s"
    return proc.returncode, (str(proc.stdout) + str(proc.stderr)).strip()


def _run(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    scratch: list[Path] = [],  # noqa: B006 (never mutated)
    tools: list[Path] = [],  # noqa: B006
) -> tuple[int, str]:
    """A check: the checkout's script, run in the sandbox over the checkout (and ``scratch``)
    writable, ``tools`` read-only."""
    return run_checkout_code(cmd, cwd, writable=[cwd, *scratch], readable=tools, env=env)


def _has_pyrpm() -> bool:
    try:
        import pyrpm.spec  # type: ignore[import-not-found,import-untyped,unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def spec_guidelines(emt: Path, specs: list[str]) -> list[CheckResult]:
    if not (emt / SPEC_GUIDELINES).is_file():
        return [CheckResult("spec-guidelines", "", CheckStatus.SKIPPED, f"no {SPEC_GUIDELINES}")]
    if not _has_pyrpm():
        return [
            CheckResult("spec-guidelines", "", CheckStatus.SKIPPED, "python-rpm-spec not installed")
        ]
    out = []
    for spec in specs:
        code, text = _run(
            [sys.executable, SPEC_GUIDELINES, "--toolchain_specs", "", "--specs", spec], emt
        )
        out.append(
            CheckResult(
                "spec-guidelines",
                spec,
                CheckStatus.PASSED if code == 0 else CheckStatus.FAILED,
                text,
            )
        )
    return out


def spec_cleaner_command() -> str | None:
    return os.environ.get("EMTK3S_SPEC_CLEANER") or shutil.which("spec-cleaner")


def spec_linter(emt: Path, specs: list[str]) -> list[CheckResult]:
    if not (emt / LINTER_PATCH).is_file():
        return [CheckResult("spec-linter", "", CheckStatus.SKIPPED, f"no {LINTER_PATCH}")]
    exe = spec_cleaner_command()
    if not exe:
        return [
            CheckResult(
                "spec-linter",
                "",
                CheckStatus.SKIPPED,
                f"spec-cleaner not installed: pip install spec-cleaner==1.2.0 from its source "
                f"with {LINTER_PATCH} applied, or set EMTK3S_SPEC_CLEANER",
            )
        ]
    out = []
    for spec in specs:
        tool = Path(exe).resolve().parent.parent  # its installation (a venv, a prefix)
        tools = [] if str(tool).startswith("/usr") else [tool, *editable_sources(tool)]
        code, text = _run([exe, "-d", "--diff-prog=git --no-pager diff", spec], emt, tools=tools)
        diff = "\n".join(
            line for line in text.splitlines() if "is not being processed due to" not in line
        ).strip()
        status = CheckStatus.PASSED if code == 0 and not diff else CheckStatus.FAILED
        if code == 0 and diff and only_drops_lone_entry(diff, (emt / spec).read_text()):
            status = CheckStatus.LINTER_DEFECT
            text = (
                "EMT's spec-cleaner drops the lone %changelog entry (the linter's own defect: "
                "it re-emits the first entry only when a second follows); its whole diff:\n" + text
            )
        out.append(CheckResult("spec-linter", spec, status, text))
    return out


def editable_sources(prefix: Path) -> list[Path]:
    """The source trees an editable install in ``prefix`` imports from (EMT's workflow installs
    the patched spec-cleaner with ``pip install -e``; its code and data stay in the source
    tree, which the sandbox must see too): the directories setuptools' editable finders map
    and ``.egg-link`` files name."""
    import ast

    out: set[Path] = set()
    for site in prefix.glob("lib/python*/site-packages"):
        for finder in site.glob("__editable__*finder.py"):
            for line in finder.read_text(errors="replace").splitlines():
                if line.startswith("MAPPING"):
                    try:
                        mapping = ast.literal_eval(line.split("=", 1)[1].strip())
                    except (ValueError, SyntaxError):
                        continue
                    # the project's tree (its data/ sits beside the package)
                    out |= {Path(v).parent for v in mapping.values() if isinstance(v, str)}
        for link in site.glob("*.egg-link"):
            first = link.read_text(errors="replace").splitlines()[:1]
            if first and first[0].startswith("/"):
                out.add(Path(first[0]))
    return sorted(d for d in out if d.is_dir() and not str(d).startswith("/usr"))


def only_drops_lone_entry(diff: str, spec_text: str) -> bool:
    """The linter's diff deletes lines of the spec's only %changelog entry and changes nothing
    else."""
    if "\n%changelog\n" not in spec_text:
        return False
    log = spec_text[spec_text.index("\n%changelog\n") :]
    if sum(1 for line in log.splitlines() if line.startswith("* ")) != 1:
        return False
    entry = log.splitlines()[2:] if log.splitlines()[1:2] == ["%changelog"] else []
    changed = [
        line
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return bool(changed) and all(ln[:1] == "-" and ln[1:] in entry for ln in changed)


def license_map(emt: Path) -> list[CheckResult]:
    if not (emt / LICENSE_MAP).is_file() or not (emt / LICENSES_JSON).is_file():
        return [CheckResult("license-map", "", CheckStatus.SKIPPED, f"no {LICENSE_MAP}")]
    if not _has_pyrpm():
        return [
            CheckResult("license-map", "", CheckStatus.SKIPPED, "python-rpm-spec not installed")
        ]
    dirs = [d for d in ("SPECS", "SPECS-EXTENDED", "SPECS-SIGNED") if (emt / d).is_dir()]
    code, text = _run([sys.executable, LICENSE_MAP, LICENSES_JSON, LICENSES_MAP, *dirs], emt)
    return [
        CheckResult(
            "license-map", "", CheckStatus.PASSED if code == 0 else CheckStatus.FAILED, text
        )
    ]


def cgmanifest(emt: Path, specs: list[str]) -> list[CheckResult]:
    if not (emt / CGMANIFEST_CHECK).is_file():
        return [CheckResult("cgmanifest", "", CheckStatus.SKIPPED, f"no {CGMANIFEST_CHECK}")]
    for tool in ("jq", "git", "make", "rpmspec", "bash"):
        if shutil.which(tool) is None:
            return [CheckResult("cgmanifest", "", CheckStatus.SKIPPED, f"{tool} not installed")]
    if _run(["git", "rev-parse", "--show-toplevel"], emt)[0] != 0:
        return [
            CheckResult(
                "cgmanifest", "", CheckStatus.SKIPPED, "the checkout is not a git work tree"
            )
        ]
    out = []
    with tempfile.TemporaryDirectory(prefix="emtk3s-cgcheck-") as tmp:
        t = Path(tmp)
        (t / "bin").mkdir()
        (t / "lua").mkdir()
        # the download step: every URL "exists" (EMT's CI fetches it; we are offline)
        (t / "bin" / "wget").write_text('#!/bin/sh\necho "Remote file exists."\n')
        # its sudo writes Lua modules into rpm's Lua directory: a scratch one via HOME
        (t / "bin" / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
        for f in ("wget", "sudo"):
            os.chmod(t / "bin" / f, 0o755)
        (t / ".rpmmacros").write_text(f"%_rpmluadir {t / 'lua'}\n")
        env = {
            "HOME": str(t),
            "PATH": f"{t / 'bin'}:{':'.join(str(d / 'bin') for d in python_dirs())}:/usr/bin:/bin",
        }
        for spec in specs:
            code, text = _run(["bash", CGMANIFEST_CHECK, spec], emt, env, scratch=[t])
            bad = emt / "bad_registrations.txt"
            if bad.is_file():
                bad.unlink()
            out.append(
                CheckResult(
                    "cgmanifest",
                    spec,
                    CheckStatus.PASSED if code == 0 else CheckStatus.FAILED,
                    text,
                )
            )
    return out


def run_all(emt: Path, specs: list[str]) -> Report:
    rep = Report()
    rep.results += spec_guidelines(emt, specs)
    rep.results += spec_linter(emt, specs)
    rep.results += license_map(emt)
    rep.results += cgmanifest(emt, specs)
    return rep
