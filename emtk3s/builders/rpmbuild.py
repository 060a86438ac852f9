"""The rpmbuild backend: ``rpmbuild --rebuild`` in a private _topdir on this host."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from emtk3s.builders import outputs
from emtk3s.infra import stamps
from emtk3s.infra.cache import (
    durable_record,
    sha256_file,
    sha256_files,
    still_verified,
    trust_record,
)
from emtk3s.infra.errors import BuildError, EnvironmentProblem
from emtk3s.infra.fsutil import file_lock
from emtk3s.infra.paths import Project
from emtk3s.infra.rpm import macros as emt_macros
from emtk3s.infra.rpm import tools as rpmtools
from emtk3s.model.artifacts import BuildInfo, SrpmInfo

STAGE = "build"


def stamped_build(
    project: Project,
    info: SrpmInfo,
    backend: str,
    key_parts: list[str | bytes],
    run: Callable[[Path, Path], list[Path]],
    force: bool = False,
    keep_other: bool = False,
) -> BuildInfo:
    """The part every backend shares: a per-package lock, the up-to-date check (same SRPM
    hash, same backend inputs), a clean work dir, RPMs published into RPMS/<arch>/ by rename,
    and the stamp. ``run(workdir, log)`` builds and returns the RPM files it made. RPMs that
    another backend made of this very SRPM are rebuilt by this one, unless ``keep_other``."""
    log = project.logs / f"build-{info.package}.log"
    key = stamps.digest(info.sha256, emt_macros.data(), backend, *key_parts)
    store = project.stamps
    with file_lock(project.locks / f"build-{info.package}.lock"):
        stamp = store.load(STAGE, info.package)
        before: dict[Path, str] = {}
        if stamp is not None:
            sha = stamp.get("sha")
            if not isinstance(sha, dict):
                raise store.malformed(store.file(STAGE, info.package), "no sha table")
            before = {
                store.path(STAGE, info.package, p, stamps.RPM_PATH): str(h) for p, h in sha.items()
            }
        stats = stamp.get("stat") if stamp is not None else None
        stats = stats if isinstance(stats, dict) else {}
        verify = project.cache.verify
        # a stat record taken when verified spares the rehash
        rehash = [p for p in before if not still_verified(p, stats.get(store.rel(p)), verify)]
        intact = bool(before) and all(p.is_file() and sha256_file(p) == before[p] for p in rehash)
        if stamp is not None and intact and rehash:  # trust these by their stat from now on
            fresh = {**stats, **{store.rel(p): durable_record(p) for p in rehash}}
            fields = {k: v for k, v in stamp.items() if k not in ("version", "key", "stat")}
            store.save(STAGE, info.package, stamp["key"], **fields, stat=fresh)
        if stamp is not None and intact and not force:
            if stamp["key"] == key:
                return BuildInfo(info.package, info.path, sorted(before), True, log, backend)
            other = stamp.get("backend")
            if (
                keep_other
                and other
                and other != backend
                and stamp.get("srpm_sha256") == info.sha256
            ):
                # asked to: a good result of this very SRPM from another backend is kept
                return BuildInfo(info.package, info.path, sorted(before), True, log, str(other))
        # a directory of this run's own: what an earlier, killed run left is removed (the
        # package's lock is held, so no other run uses one)
        project.work.mkdir(parents=True, exist_ok=True)
        for old in project.work.glob(f"build-{info.package}-*"):
            shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(project.work / f"build-{info.package}", ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=f"build-{info.package}-", dir=project.work))
        log.parent.mkdir(parents=True, exist_ok=True)
        made = run(work, log)
        if not made:
            raise BuildError(f"{backend} made no RPM for {info.package}; log: {log}", "")
        # the build's output is data: checked (regular files the SRPM's spec declares, a known
        # arch) before anything is published into RPMS/<arch>/
        out = outputs.publish(made, work, project.rpms, outputs.expected_from_srpm(info.path))
        for old in before:  # inside this project (Stamps.path checks)
            if old not in out:
                old.unlink(missing_ok=True)
        store.save(
            STAGE,
            info.package,
            key,
            sha=dict(zip(map(store.rel, out), sha256_files(out), strict=True)),
            stat={store.rel(p): trust_record(p) for p in out},
            backend=backend,
            srpm_sha256=info.sha256,
        )
        shutil.rmtree(work, ignore_errors=True)
        return BuildInfo(info.package, info.path, out, False, log, backend)


def built_sha256(project: Project, rpm_file: Path) -> str:
    """The sha256 of an RPM in RPMS/: from the build stamp that published it while the file
    is still the one recorded there (its stat record), else read."""
    store = project.stamps
    try:
        rel = store.rel(rpm_file)
    except ValueError:  # not one of this project's RPMs
        return sha256_file(rpm_file)
    for stamp_file in sorted(store.dir.glob(f"{STAGE}-*.json")):
        stamp = store.load(STAGE, stamp_file.stem[len(STAGE) + 1 :])
        if stamp is None:
            continue
        sha, stats = stamp.get("sha"), stamp.get("stat")
        if isinstance(sha, dict) and isinstance(stats, dict) and rel in sha:
            if still_verified(rpm_file, stats.get(rel), project.cache.verify):
                return str(sha[rel])
    return sha256_file(rpm_file)


def chain_built(
    project: Project, requires: list[str], chain_deps: Mapping[str, tuple[str, str]]
) -> dict[str, Path]:
    """Chain-built RPMs in RPMS/ that satisfy the SRPM's BuildRequires (name -> RPM file);
    ``chain_deps``: the BuildRequires the chain builds itself (``Catalog.chain_deps``)."""
    wanted = {r.split()[0] for r in requires} & set(chain_deps)
    found: dict[str, Path] = {}
    if not wanted or not project.rpms.is_dir():
        return found
    for rpm_file in sorted(project.rpms.glob("*/*.rpm")):
        if rpm_file.name.endswith(".src.rpm"):
            continue
        name = rpm_file.name.rsplit("-", 2)[0]
        if name in wanted:
            found[name] = rpm_file  # sorted: the newest version-release last wins
    return found


def deps_root(
    deps: dict[str, Path], root: Path, chain_deps: Mapping[str, tuple[str, str]]
) -> list[str]:
    """Unpack chain-built dependency RPMs into ``root``; the --define arguments for the spec."""
    root.mkdir(parents=True, exist_ok=True)
    args: list[str] = []
    for name, rpm_file in sorted(deps.items()):
        rpmtools.need("rpm2cpio")
        rpmtools.need("cpio")
        cpio = subprocess.run(["rpm2cpio", str(rpm_file)], capture_output=True, check=False)
        if cpio.returncode != 0:
            raise BuildError(f"rpm2cpio {rpm_file} failed", "rebuild that package (chain)")
        unpack = subprocess.run(
            ["cpio", "-idm", "--quiet", "--no-absolute-filenames"],
            input=cpio.stdout,
            cwd=root,
            capture_output=True,
            check=False,
        )
        if unpack.returncode != 0:
            raise BuildError(f"cpio of {rpm_file} failed: {unpack.stderr.decode()[:200]}", "")
        macro, rel = chain_deps[name]
        args += ["--define", f"{macro} {root / rel}"]
    return args


def rebuild_rpmbuild(
    project: Project,
    info: SrpmInfo,
    chain_deps: Mapping[str, tuple[str, str]],
    nodeps: bool = False,
    force: bool = False,
    keep_other: bool = False,
) -> BuildInfo:
    """``rpmbuild --rebuild`` with this host's tools, in the sandbox (infra/sandbox.py: the
    host's system directories read-only, only the work directory writable, a private /tmp and
    HOME, no network, no capabilities), in a private _topdir. BuildRequires the chain built
    (``PackageDef.chain_deps``) come from RPMS/, unpacked into a private root the spec is
    pointed at."""
    buildtime, requires = info.header()
    deps = chain_built(project, list(requires), chain_deps)

    def run(work: Path, log: Path) -> list[Path]:
        # checked when there is something to build: an up-to-date package needs no rpm database
        if requires and not nodeps and not rpmtools.host_has_rpmdb():
            raise EnvironmentProblem(
                f"{info.path.name} has BuildRequires ({', '.join(requires[:4])}) and this host "
                "has no rpm database to check them against",
                "pass --nodeps to build anyway with the host's tools, or use --backend chroot",
            )
        rpmtools.need("rpmbuild")
        cmd = ["rpmbuild", "--rebuild", *rpmtools.macro_args(work)]
        cmd += deps_root(deps, work / "deps-root", chain_deps)
        if nodeps:
            cmd.append("--nodeps")
        cmd.append(str(info.path))
        rpmtools.run_sandboxed(
            cmd,
            log,
            cwd=work,
            writable=[work],
            readable=[info.path],
            env={"SOURCE_DATE_EPOCH": str(buildtime)},
        )
        return outputs.find_rpms(work / "RPMS")

    dep_keys = [f"{n}={built_sha256(project, p)}" for n, p in sorted(deps.items())]
    key: list[str | bytes] = [f"nodeps={nodeps}", *dep_keys]
    return stamped_build(project, info, "rpmbuild", key, run, force, keep_other)


def publish_repo(project: Project, force: bool = False) -> Path | None:
    """createrepo_c over RPMS/ so later builds (and dnf/tdnf) can use it as a local repo."""
    if force:
        project.rpms.mkdir(parents=True, exist_ok=True)
        rpmtools.need("createrepo_c")
    if shutil.which("createrepo_c") is None or not project.rpms.is_dir():
        return None
    proc = subprocess.run(
        [
            "createrepo_c",
            "--quiet",
            "--update",
            "--set-timestamp-to-revision",
            "--revision",
            "0",
            str(project.rpms),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BuildError(f"createrepo_c failed: {proc.stderr.strip()[:200]}", "")
    return project.rpms
