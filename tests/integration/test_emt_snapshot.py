"""EMT's own pull-request checks on our specs, in a copy of the real EMT repository.

Where the snapshot of open-edge-platform/edge-microvisor-toolkit is present (the fetch tool puts
it under /work/.mirror; nothing of it is committed here), the default release (the golden lock:
real tags and versions) is rendered and integrated into a copy of it with
``--replace --allow-downgrade`` (EMT's SPECS-EXTENDED holds newer fuse-overlayfs and slirp4netns),
and then EMT's own scripts run as its workflows run them:

- check-spec.yml: toolkit/scripts/check_spec_guidelines.py;
- lint-specs.yml: spec-cleaner 1.2.0 from PyPI with .github/workflows/azurelinux-spec-cleaner.patch
  applied (skipped when PyPI cannot be reached); also with ``#nospeccleaner`` removed, where the
  only change the linter may make is dropping the lone changelog entry (its known bug);
- check-license-map.yml: toolkit/scripts/license_map.py;
- check-package-cgmanifest.yml: .github/workflows/validate-cg-manifest.sh, its download step
  stubbed (no network).

Elsewhere (CI has no /work/.mirror) every test here is skipped with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emtk3s.emt import emtci

REPO = Path(__file__).resolve().parents[2]
SNAPSHOT = Path(
    os.environ.get(
        "EMTK3S_EMT_SNAPSHOT", "/work/.mirror/open-edge-platform+edge-microvisor-toolkit/repo"
    )
)
RENDERED = ["fuse-overlayfs", "k3s", "k3s-iptables-helpers", "k3s-root", "slirp4netns"]
# k3s-root is not integrated here: its buildroot downloads pinned by sha512 only have no sha256
# until `emtk3s fetch` downloads them (integrate refuses PENDING sources), and the golden lock's
# hashes are stand-ins; its basename clash with EMT is tested below from real records
PACKAGES = [p for p in RENDERED if p != "k3s-root"]
SPECS = [f"SPECS/{p}/{p}.spec" for p in PACKAGES]
BUILDROOT = SNAPSHOT.parent.parent / "buildroot+buildroot" / "repo"


def _git(*args: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", f"--git-dir={SNAPSHOT}", *args], check=True, capture_output=True)  # type: ignore[call-overload,no-any-return]


def _checkout(dest: Path) -> None:
    """The snapshot's HEAD as files (blobs the snapshot lacks, files of 4 MiB and more, left out)."""
    tree = _git("ls-tree", "-r", "HEAD").stdout.decode().splitlines()
    shas = "\n".join(line.split()[2] for line in tree) + "\n"
    check = subprocess.run(
        ["git", f"--git-dir={SNAPSHOT}", "cat-file", "--batch-check"],
        input=shas.encode(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    missing = {line.split()[0] for line in check.splitlines() if line.endswith("missing")}
    excludes = [
        f":(exclude){line.split(None, 3)[3]}" for line in tree if line.split()[2] in missing
    ]
    dest.mkdir(parents=True)
    archive = subprocess.Popen(
        ["git", f"--git-dir={SNAPSHOT}", "archive", "HEAD", "--", ".", *excludes],
        stdout=subprocess.PIPE,
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, check=True)
    assert archive.wait() == 0
    subprocess.run(["git", "init", "-q", str(dest)], check=True)


def _emtk3s(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emtk3s", "-C", str(root), *args], capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def integrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if not (SNAPSHOT / "HEAD").is_file():
        pytest.skip(f"no EMT snapshot at {SNAPSHOT} (the fetch tool brings it; CI has none)")
    base = tmp_path_factory.mktemp("emt-snapshot")
    emt = base / "emt"
    _checkout(emt)
    proj = base / "proj"
    proj.mkdir()
    # the golden release, with the buildroot mirror its lock's k3s-root downloads name
    (proj / "release.toml").write_text(
        (REPO / "tests/golden/release.toml").read_text()
        + '\n[mirrors]\nbuildroot = "https://sources.buildroot.net"\n'
    )
    shutil.copy(REPO / "tests/golden/lock.json", proj / "emtk3s.lock")
    res = _emtk3s(proj, "render")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (proj / "SPECS").iterdir()) == RENDERED
    shutil.rmtree(proj / "SPECS" / "k3s-root")
    res = _emtk3s(
        proj, "emt", "integrate", "--emt-repo", str(emt), "--replace", "--allow-downgrade"
    )
    assert res.returncode == 0, res.stderr
    print(res.stdout)
    yield emt


def _report(results: list[emtci.CheckResult]) -> None:
    for r in results:
        print(f"== {r.check} {r.spec or '(checkout)'}: {r.status}\n{r.output}\n")


def test_check_spec_guidelines_passes(integrated: Path) -> None:
    """Every rule passes, except "license not verified" for a spec whose license emtk3s has
    not verified (the line is written only after `emtk3s license-check`
    passed on the package's sources; the default release's sources are not in this cache)."""
    results = emtci.spec_guidelines(integrated, SPECS)
    _report(results)
    for r in results:
        if r.status == "passed":
            continue
        errors = [ln for ln in r.output.splitlines() if ln.startswith("ERROR:")]
        assert errors == ["ERROR: license not verified."], r.output
        assert "License verified" not in (integrated / r.spec).read_text()
    # and the one rule it fails is EMT's own license rule, nothing else: with the line, it passes
    spec = integrated / SPECS[0]
    text = spec.read_text()
    spec.write_text(text.rstrip("\n") + "\n- License verified.\n")
    try:
        assert [r.status for r in emtci.spec_guidelines(integrated, SPECS[:1])] == ["passed"]
    finally:
        spec.write_text(text)


def test_license_map_passes(integrated: Path) -> None:
    results = emtci.license_map(integrated)
    _report(results)
    assert [r.status for r in results] == ["passed"]


def test_cgmanifest_check_passes(integrated: Path) -> None:
    results = emtci.cgmanifest(integrated, SPECS)
    _report(results)
    assert [r.status for r in results] == ["passed"] * len(SPECS)
    assert all("is missing" not in r.output for r in results)
    # the check can fail: without our registration it names the missing one
    cg = integrated / "cgmanifest.json"
    good = cg.read_text()
    try:
        cg.write_text(
            good.replace('"name": "k3s-iptables-helpers"', '"name": "k3s-iptables-helpers-x"')
        )
        bad = emtci.cgmanifest(integrated, ["SPECS/k3s-iptables-helpers/k3s-iptables-helpers.spec"])
    finally:
        cg.write_text(good)
    assert bad[0].status == "failed" and (
        "Registration for k3s-iptables-helpers:0.14.1 is missing" in bad[0].output
    ), bad[0].output


@pytest.fixture(scope="module")
def spec_cleaner(integrated: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """spec-cleaner 1.2.0 from PyPI with the checkout's patch applied, in a venv of its own."""
    base = tmp_path_factory.mktemp("spec-cleaner")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin/python"), "-m", "pip", "-q"]
    dl = subprocess.run(
        [
            *pip,
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "spec-cleaner==1.2.0",
            "-d",
            str(base),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    sdists = list(base.glob("spec_cleaner-1.2.0.tar.gz"))
    if dl.returncode != 0 or not sdists:
        pytest.skip(f"spec-cleaner 1.2.0 not installable here: {dl.stderr.strip()[-200:]}")
    subprocess.run(["tar", "-xzf", str(sdists[0]), "-C", str(base)], check=True)
    src = base / "spec_cleaner-1.2.0"
    # the patch is made against the git repository; the sdist has its code and data
    subprocess.run(
        [
            "git",
            "apply",
            "--include=spec_cleaner/*",
            "--include=data/*",
            "--include=setup.py",
            str(integrated / emtci.LINTER_PATCH),
        ],
        cwd=src,
        check=True,
    )
    subprocess.run([*pip, "install", "-e", str(src)], check=True, capture_output=True)
    return venv / "bin/spec-cleaner"


def test_patched_spec_cleaner_passes(
    integrated: Path, spec_cleaner: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMTK3S_SPEC_CLEANER", str(spec_cleaner))
    results = emtci.spec_linter(integrated, SPECS)
    _report(results)
    assert [r.status for r in results] == ["passed"] * len(SPECS)


def test_without_the_marker_the_linter_only_drops_the_lone_changelog_entry(
    integrated: Path, spec_cleaner: Path, tmp_path: Path
) -> None:
    """The layout is the linter's own: with #nospeccleaner removed, the one change it makes is
    its known bug (a single %changelog entry is dropped)."""
    for spec in SPECS:
        copy = tmp_path / Path(spec).name
        text = (integrated / spec).read_text()
        copy.write_text(re.sub(r"(?m)^#nospeccleaner\n", "", text))
        out = subprocess.run(
            [str(spec_cleaner), "-d", "--diff-prog=git --no-pager diff --no-index", str(copy)],
            capture_output=True,
            text=True,
        ).stdout
        changed = [
            line
            for line in out.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        print(f"== {spec} without #nospeccleaner:\n" + "\n".join(changed))
        log = text[text.index("\n%changelog\n") :]
        assert changed and all(line[1:] in log and line[:1] == "-" for line in changed), out


def test_k3s_root_download_basenames_do_not_clash_with_emt(integrated: Path) -> None:
    """From real records only: buildroot 2024.02.7's .hash files (sha256) for the downloads
    k3s-root's Sources name, against every signatures.json of the EMT snapshot. Some upstream
    file names are EMT's too with other bytes; k3s-root's Source basenames are namespaced
    (k3s-root-<version>-...) so none of them reaches EMT's source server under such a name."""
    import json

    from emtk3s.emt import checkout

    if not (BUILDROOT / "HEAD").is_file():
        pytest.skip(f"no buildroot snapshot at {BUILDROOT}")
    lock = json.loads((REPO / "tests/golden/lock.json").read_text())
    tag = lock["components"]["buildroot"]["tag"]
    files = subprocess.run(
        ["git", f"--git-dir={BUILDROOT}", "ls-tree", "-r", "--name-only", tag, "package/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    recorded: dict[str, str] = {}
    for f in (x for x in files if x.endswith(".hash")):
        text = subprocess.run(
            ["git", f"--git-dir={BUILDROOT}", "show", f"{tag}:{f}"], capture_output=True, text=True
        ).stdout
        for m in re.finditer(r"(?m)^sha256\s+([0-9a-f]{64})\s+(\S+)$", text):
            recorded.setdefault(m.group(2), m.group(1))
    theirs = checkout.source_basenames(integrated)
    raw_clashes, clashes = [], []
    for src in lock["packages"]["k3s-root"]["sources"]:
        raw = src.get("url", "").rsplit("/", 1)[-1]
        if raw in theirs and raw in recorded and recorded[raw] != theirs[raw][1]:
            # e.g. pigz-2.8.tar.gz: zlib.net's bytes in buildroot, other bytes in EMT's SPECS/pigz
            raw_clashes.append(raw)
            if src["name"] == raw:
                clashes.append(f"{raw}: buildroot {recorded[raw][:12]} vs {theirs[raw][0]}")
        if src["name"] in theirs and src["name"] != raw:
            clashes.append(f"{src['name']}: also {theirs[src['name']][0]}'s")
    print("buildroot downloads EMT has with other bytes:", raw_clashes)
    assert raw_clashes, "expected at least pigz-2.8.tar.gz (the check would prove nothing)"
    assert clashes == []
