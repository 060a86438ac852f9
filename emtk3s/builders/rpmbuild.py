"""The rpmbuild backend: ``rpmbuild --rebuild`` in a private _topdir on this host."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from emtk3s.infra import rpmtools, stamps
from emtk3s.infra.cache import sha256_file
from emtk3s.infra.errors import BuildError, EnvironmentProblem
from emtk3s.infra.fsutil import copy_into, file_lock
from emtk3s.infra.paths import Project, data_file
from emtk3s.stages.srpm import SrpmInfo

STAGE = "build"


@dataclass
class BuildInfo:
    package: str
    srpm: Path
    rpms: list[Path]
    skipped: bool
    log: Path
    backend: str


def stamped_build(
    project: Project,
    info: SrpmInfo,
    backend: str,
    key_parts: list[str | bytes],
    run: Callable[[Path, Path], list[Path]],
    force: bool = False,
) -> BuildInfo:
    """The part every backend shares: a per-package lock, the up-to-date check (same SRPM
    hash, same backend inputs), a clean work dir, RPMs published into RPMS/<arch>/ by rename,
    and the stamp. ``run(workdir, log)`` builds and returns the RPM files it made."""
    log = project.logs / f"build-{info.package}.log"
    key = stamps.digest(info.sha256, data_file("emt.macros").read_bytes(), backend, *key_parts)
    store = project.stamps
    with file_lock(project.locks / f"build-{info.package}.lock"):
        stamp = store.load(STAGE, info.package)
        before: dict[Path, str] = {}
        if stamp is not None:
            sha = stamp.get("sha")
            if not isinstance(sha, dict):
                raise store.malformed(store.file(STAGE, info.package), "no sha table")
            before = {store.path(STAGE, info.package, p): str(h) for p, h in sha.items()}
        if stamp is not None and stamp["key"] == key and not force:
            if before and all(p.is_file() and sha256_file(p) == h for p, h in before.items()):
                return BuildInfo(info.package, info.path, sorted(before), True, log, backend)
        work = project.work / f"build-{info.package}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        log.parent.mkdir(parents=True, exist_ok=True)
        made = run(work, log)
        if not made:
            raise BuildError(f"{backend} made no RPM for {info.package}; log: {log}", "")
        out: list[Path] = []
        for rpm_file in made:
            arch = rpmtools.read_header(rpm_file)["arch"]
            out.append(copy_into(rpm_file, project.rpms / arch))
        for old in before:  # inside this project (Stamps.path checks)
            if old not in out:
                old.unlink(missing_ok=True)
        store.save(STAGE, info.package, key, sha={store.rel(p): sha256_file(p) for p in out})
        shutil.rmtree(work, ignore_errors=True)
        return BuildInfo(info.package, info.path, out, False, log, backend)


def rebuild_rpmbuild(
    project: Project, info: SrpmInfo, nodeps: bool = False, force: bool = False
) -> BuildInfo:
    """``rpmbuild --rebuild`` on this host, in a private _topdir."""
    hdr = rpmtools.read_header(info.path)
    if hdr["requires"] and not nodeps and not rpmtools.host_has_rpmdb():
        raise EnvironmentProblem(
            f"{info.path.name} has BuildRequires ({', '.join(hdr['requires'][:4])}) and this host has "
            "no rpm database to check them against",
            "pass --nodeps to build anyway with the host's tools, or use --backend chroot",
        )
    rpmtools.need("rpmbuild")

    def run(work: Path, log: Path) -> list[Path]:
        cmd = ["rpmbuild", "--rebuild", *rpmtools.macro_args(work)]
        if nodeps:
            cmd.append("--nodeps")
        cmd.append(str(info.path))
        rpmtools.run_logged(cmd, log, env={"SOURCE_DATE_EPOCH": str(hdr["buildtime"])})
        return sorted((work / "RPMS").rglob("*.rpm"))

    return stamped_build(project, info, "rpmbuild", [f"nodeps={nodeps}"], run, force)


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
