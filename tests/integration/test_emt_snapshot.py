"""EMT's own pull-request checks on our specs, in a copy of the real EMT repository.

Where the snapshot of open-edge-platform/edge-microvisor-toolkit is present (the fetch tool puts
it under /work/.mirror; nothing of it is committed here), the default release (the golden lock:
real tags and versions, the addon image packages included) is rendered; the sources of
fuse-overlayfs, slirp4netns, k3s-iptables-helpers and k3s-addon-klipper-lb come from the upstream
snapshots, so `emtk3s license-check` verifies their
License: tags first (k3s and k3s-root cannot be verified here: UNVERIFIABLE says why).

- default_run: `emt integrate` as a release engineer runs it: the dry run of the whole release
  (exit 0, pending packages marked), then what is ready; EMT's newer SPECS-EXTENDED copies win
  and nothing there changes; a second run changes nothing;
- integrated: the verified packages with EMT's newer copies replaced by choice
  (``--replace --allow-downgrade``), so that EMT's checks run on all three.

EMT's own scripts then run as its workflows run them:

- check-spec.yml: toolkit/scripts/check_spec_guidelines.py;
- lint-specs.yml: spec-cleaner 1.2.0 from PyPI with .github/workflows/azurelinux-spec-cleaner.patch
  applied (skipped when PyPI cannot be reached); no spec carries ``#nospeccleaner``; the only
  diff it may make is its own defect (dropping a lone changelog entry), reported as such;
- check-license-map.yml: toolkit/scripts/license_map.py;
- check-package-cgmanifest.yml: .github/workflows/validate-cg-manifest.sh, its download step
  stubbed (no network).

Elsewhere (CI has no /work/.mirror) every test here is skipped with the reason.
"""

from __future__ import annotations

import json
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
RENDERED = sorted(json.loads((REPO / "tests/golden/lock.json").read_text())["packages"])
MIRRORS = SNAPSHOT.parent.parent
#: where each package's sources come from here (the snapshots of the upstream repositories):
#: package -> (snapshot, tag, [(lock source name, path in the tag's tree or "" for the
#: git-archive tarball of the tag)])
FROM_SNAPSHOTS = {
    "fuse-overlayfs": ("containers+fuse-overlayfs", "v1.11", [("fuse-overlayfs-1.11.tar.gz", "")]),
    "slirp4netns": (
        "rootless-containers+slirp4netns",
        "v1.2.0",
        [("slirp4netns-1.2.0.tar.gz", "")],
    ),
    "k3s-iptables-helpers": (
        "k3s-io+k3s-root",
        "v0.14.1",
        [
            (
                "k3s-iptables-helpers-0.14.1-iptables-detect.sh",
                "iptables-detect/iptables-detect.sh",
            ),
            (
                "k3s-iptables-helpers-0.14.1-xtables-set-mode.sh",
                "iptables-detect/xtables-set-mode.sh",
            ),
            ("k3s-iptables-helpers-0.14.1-README.md", "iptables-detect/README.md"),
            ("k3s-iptables-helpers-0.14.1-LICENSE", "LICENSE"),
        ],
    ),
    "k3s-addon-klipper-lb": (
        "k3s-io+klipper-lb",
        "v0.4.13",
        [
            ("k3s-addon-klipper-lb-0.4.13-entry", "entry"),
            ("k3s-addon-klipper-lb-0.4.13-LICENSE", "LICENSE"),
        ],
    ),
    "k3s-addon-klipper-helm": (
        "k3s-io+klipper-helm",
        "v0.9.5-build20250306",
        [
            ("k3s-addon-klipper-helm-0.9.5.build20250306-entry", "entry"),
            ("k3s-addon-klipper-helm-0.9.5.build20250306-LICENSE", "LICENSE"),
        ],
    ),
}
#: why the others' licenses cannot be verified here
UNVERIFIABLE = {
    "k3s": "no snapshot of k3s-io/k3s (its source tarball) is present here",
    "k3s-addon-coredns": "its Go vendor tarball (like metrics-server's, "
    "local-path-provisioner's, traefik's, helm's and the helm plugins') needs the module proxy",
    "k3s-addon-pause": "no snapshot of kubernetes/kubernetes is present here",
    "k3s-addon-images": "its payloads' and k3s-root's licenses are not all verifiable here",
    "k3s-root": "its buildroot downloads (gcc, ipset, ...) are pinned by sha512 only and no "
    "snapshot holds them",
}
SPECS = [f"SPECS/{p}/{p}.spec" for p in FROM_SNAPSHOTS]
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
    env = {**os.environ, "EMTK3S_CACHE": str(root / ".cache")}
    return subprocess.run(
        [sys.executable, "-m", "emtk3s", "-C", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
    )


def _sources_from_snapshots(proj: Path) -> None:
    """The golden lock's hashes stand in for the real downloads; here the sources of the
    packages whose upstream snapshots are present are taken from those snapshots (GitHub's
    archive tarball is git-archive of the tag; raw files are the tag's blobs), pinned in the
    project's lock under their own sha256 and put in the project's cache."""
    import hashlib
    import json

    from emtk3s.infra.cache import Cache

    lock = json.loads((proj / "emtk3s.lock").read_text())
    cache = Cache(proj / ".cache")
    for pkg, (snap, tag, files) in FROM_SNAPSHOTS.items():
        git = MIRRORS / snap / "repo"
        if not (git / "HEAD").is_file():
            pytest.skip(f"no snapshot {git}")
        for name, path in files:
            if path:
                data = subprocess.run(
                    ["git", f"--git-dir={git}", "show", f"{tag}:{path}"],
                    capture_output=True,
                    check=True,
                ).stdout
            else:
                prefix = name.removesuffix(".tar.gz") + "/"
                data = subprocess.run(
                    [
                        "git",
                        f"--git-dir={git}",
                        "archive",
                        "--format=tar.gz",
                        f"--prefix={prefix}",
                        tag,
                    ],
                    capture_output=True,
                    check=True,
                ).stdout
            sha = hashlib.sha256(data).hexdigest()
            cache.add_bytes(data, sha, name)
            (src,) = [x for x in lock["packages"][pkg]["sources"] if x["name"] == name]
            src.update(sha256=sha, size=len(data))
    (proj / "emtk3s.lock").write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n")


def _project(base: Path) -> Path:
    """The golden release, its sources from the snapshots, rendered and license-checked."""
    proj = base / "proj"
    proj.mkdir()
    # the golden release, with the buildroot mirror its lock's k3s-root downloads name
    (proj / "release.toml").write_text(
        (REPO / "tests/golden/release.toml").read_text()
        + '\n[mirrors]\nbuildroot = "https://sources.buildroot.net"\n'
    )
    shutil.copy(REPO / "tests/golden/lock.json", proj / "emtk3s.lock")
    _sources_from_snapshots(proj)
    res = _emtk3s(proj, "render")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (proj / "SPECS").iterdir()) == RENDERED
    args = [x for p in FROM_SNAPSHOTS for x in ("-p", p)]
    res = _emtk3s(proj, "license-check", *args)
    assert res.returncode == 0, res.stdout + res.stderr
    for pkg in FROM_SNAPSHOTS:
        assert "License verified." in (proj / "SPECS" / pkg / f"{pkg}.spec").read_text()
    return proj


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (SNAPSHOT / "HEAD").is_file():
        pytest.skip(f"no EMT snapshot at {SNAPSHOT} (the fetch tool brings it; CI has none)")
    return _project(tmp_path_factory.mktemp("emt-project"))


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.fixture(scope="module")
def default_run(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`emt integrate` of the default release as it can land here: the dry run of the whole
    release first (exit 0, every decision shown, pending marked), then the ready packages."""
    import json

    emt = tmp_path_factory.mktemp("emt-default") / "emt"
    _checkout(emt)
    before = _tree(emt)
    dry = _emtk3s(project, "--json", "emt", "integrate", "--emt-repo", str(emt), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    print(dry.stderr)
    dec = {d["package"]: d for d in json.loads(dry.stdout)["result"]["decisions"]}
    assert dec["fuse-overlayfs"]["action"] == "kept" and dec["slirp4netns"]["action"] == "kept"
    assert dec["k3s-root"]["action"] == "pending" and "PENDING" in dec["k3s-root"]["reason"]
    assert dec["k3s"]["action"] == "pending"
    assert "k3s-root-dist: its provider k3s-root is pending" in dec["k3s"]["reason"]
    assert dec["k3s-iptables-helpers"]["action"] == "new"
    assert _tree(emt) == before
    real = _emtk3s(project, "emt", "integrate", "--emt-repo", str(emt))
    assert real.returncode != 0 and "-p k3s-iptables-helpers" in real.stderr, real.stderr
    args = [x for p in ("fuse-overlayfs", "slirp4netns", "k3s-iptables-helpers") for x in ("-p", p)]
    res = _emtk3s(project, "emt", "integrate", "--emt-repo", str(emt), *args)
    assert res.returncode == 0, res.stderr
    after = _tree(emt)
    # nothing in SPECS-EXTENDED changed
    ext = {k: v for k, v in before.items() if k.startswith("SPECS-EXTENDED/")}
    assert {k: v for k, v in after.items() if k.startswith("SPECS-EXTENDED/")} == ext
    # a second run changes nothing
    again = _emtk3s(project, "emt", "integrate", "--emt-repo", str(emt), *args)
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr
    assert _tree(emt) == after
    yield emt


@pytest.fixture(scope="module")
def integrated(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The three packages whose licenses are verified here, EMT's newer copies replaced by
    choice (--replace --allow-downgrade): EMT's checks run on all three."""
    emt = tmp_path_factory.mktemp("emt-snapshot") / "emt"
    _checkout(emt)
    args = [x for p in FROM_SNAPSHOTS for x in ("-p", p)]
    res = _emtk3s(
        project, "emt", "integrate", "--emt-repo", str(emt), "--replace", "--allow-downgrade", *args
    )
    assert res.returncode == 0, res.stderr
    print(res.stdout)
    yield emt


def test_default_release_lands_what_is_ready_and_names_the_rest(default_run: Path) -> None:
    results = emtci.run_all(default_run, ["SPECS/k3s-iptables-helpers/k3s-iptables-helpers.spec"])
    _report(results.results)
    assert not results.failed
    statuses = {r.check: r.status for r in results.results}
    assert statuses["spec-guidelines"] == "passed" and statuses["license-map"] == "passed"
    assert statuses["cgmanifest"] == "passed"
    assert not (default_run / "SPECS/fuse-overlayfs").exists()
    for pkg, why in UNVERIFIABLE.items():
        print(f"{pkg}: license not verified here: {why}")
        assert not (default_run / "SPECS" / pkg / f"{pkg}.spec").exists() or (
            "emtk3s" not in (default_run / "SPECS" / pkg / f"{pkg}.spec").read_text()
        )


def _report(results: list[emtci.CheckResult]) -> None:
    for r in results:
        print(f"== {r.check} {r.spec or '(checkout)'}: {r.status}\n{r.output}\n")


def test_check_spec_guidelines_passes(integrated: Path) -> None:
    """Every rule passes for every spec whose license was verified here (k3s and k3s-root:
    see UNVERIFIABLE)."""
    results = emtci.spec_guidelines(integrated, SPECS)
    _report(results)
    assert [r.status for r in results] == ["passed"] * len(SPECS)
    # the check can fail: without the line, EMT's license rule names it
    spec = integrated / SPECS[0]
    text = spec.read_text()
    spec.write_text(text.replace("- License verified.\n", ""))
    try:
        (bad,) = emtci.spec_guidelines(integrated, SPECS[:1])
    finally:
        spec.write_text(text)
    assert bad.status == "failed" and "ERROR: license not verified." in bad.output


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
    """No spec bypasses the linter; each passes, or its one diff is the linter's own defect
    (it drops a lone %changelog entry), which the report names as such, never as passed."""
    monkeypatch.setenv("EMTK3S_SPEC_CLEANER", str(spec_cleaner))
    for spec in SPECS:
        assert "#nospeccleaner" not in (integrated / spec).read_text()
    results = emtci.spec_linter(integrated, SPECS)
    _report(results)
    for r in results:
        log = (integrated / r.spec).read_text().split("\n%changelog\n", 1)[1]
        if log.count("\n* ") + log.startswith("* ") > 1:
            assert r.status == "passed", r.output
        else:
            assert r.status == "linter-defect", r.output
            assert "drops the lone %changelog entry" in r.output
    # the classification can fail: any other change the linter makes is a failure
    spec = integrated / SPECS[0]
    text = spec.read_text()
    spec.write_text(text.replace("Summary:        ", "Summary: ", 1))
    try:
        assert [r.status for r in emtci.spec_linter(integrated, SPECS[:1])] == ["failed"]
    finally:
        spec.write_text(text)


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
