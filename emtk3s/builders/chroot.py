"""The chroot backend: build an SRPM inside an EMT toolchain (worker) chroot, as EMT's pipeline
does — no network, BuildRequires from a local repository, the cached chroot left clean.

A chroot is a directory or a tarball (the toolkit's ``worker_chroot.tar.gz``); a tarball is
unpacked once into the cache, keyed by its sha256. Each build runs on an overlay (or, where
overlayfs is not available, a copy) of it, so the cached tree never changes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from emtk3s.builders.rpmbuild import BuildInfo, stamped_build
from emtk3s.infra import rpmtools
from emtk3s.infra.cache import Cache, sha256_file
from emtk3s.infra.errors import BuildError, EnvironmentProblem, InputError
from emtk3s.infra.fsutil import file_lock
from emtk3s.infra.paths import Project, data_file
from emtk3s.stages.srpm import SrpmInfo

INSIDE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REPO_INSIDE = "/emtk3s-repo"


def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(
            f"{what} failed: {' '.join((proc.stderr or proc.stdout).split())[:300]}", ""
        )
    return proc


def prepare(source: Path, cache: Cache) -> tuple[Path, str]:
    """The chroot's root directory and a key naming its content (for up-to-date checks)."""
    if not source.exists():
        raise InputError(
            f"chroot {source}: no such directory or tarball", "pass --chroot DIR|TARBALL"
        )
    if source.is_dir():
        root = source.resolve()
        if not (root / "usr").is_dir():
            raise InputError(f"chroot {root}: not a root file system (no usr/)", "")
        dbs = (root / "usr/lib/sysimage/rpm", root / "var/lib/rpm", root / "root/.rpmdb")
        rpmdb = max(
            (p for p in dbs if p.exists()), key=lambda p: p.stat().st_mtime_ns, default=root
        )
        return root, f"dir:{root}:{rpmdb.stat().st_mtime_ns}"
    sha = sha256_file(source)
    dest = cache.root / "chroots" / sha
    with file_lock(cache.lock_for(f"chroot-{sha}")):
        if not (dest / ".complete").exists():
            shutil.rmtree(dest, ignore_errors=True)
            tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache.root))
            try:
                # a worker chroot is a whole root file system (absolute symlinks, device nodes):
                # GNU tar keeps members below the target and strips leading slashes
                _run(
                    ["tar", "-xpf", str(source), "--numeric-owner", "-C", str(tmp)],
                    f"unpacking {source.name}",
                )
                entries = list(tmp.iterdir())
                top = entries[0] if len(entries) == 1 and (entries[0] / "usr").is_dir() else tmp
                dest.mkdir(parents=True, exist_ok=True)
                os.replace(top, dest / "root")
                (dest / ".complete").write_text(source.name + "\n")
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return dest / "root", f"tar:{sha}"


@contextlib.contextmanager
def build_root(root: Path, scratch: Path, repo: Path | None) -> Iterator[Path]:
    """A throwaway root over ``root``: overlayfs when it mounts, a copy otherwise; /proc,
    /dev and the local repository (read-only) mounted in; everything undone on exit."""
    scratch.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="root-", dir=scratch))
    merged, upper, wdir = work / "merged", work / "upper", work / "work"
    for d in (merged, upper, wdir):
        d.mkdir()
    mounts: list[Path] = []
    try:
        ov = subprocess.run(
            [
                "mount",
                "-t",
                "overlay",
                "overlay",
                "-o",
                f"lowerdir={root},upperdir={upper},workdir={wdir}",
                str(merged),
            ],
            capture_output=True,
        )
        if ov.returncode == 0:
            mounts.append(merged)
        else:
            _run(["cp", "-a", "--reflink=auto", f"{root}/.", str(merged)], "copying the chroot")
        for sub, args in (("proc", ["-t", "proc", "proc"]), ("dev", ["--bind", "/dev"])):
            target = merged / sub
            target.mkdir(exist_ok=True)
            _run(["mount", *args, str(target)], f"mounting /{sub} in the chroot")
            mounts.append(target)
        if repo is not None:
            target = merged / REPO_INSIDE.lstrip("/")
            target.mkdir(exist_ok=True)
            _run(
                ["mount", "--bind", "-o", "ro", str(repo), str(target)],
                "mounting the local repository",
            )
            _run(
                ["mount", "-o", "remount,bind,ro", str(target)],
                "making the local repository read-only",
            )
            mounts.append(target)
        yield merged
    finally:
        for m in reversed(mounts):
            subprocess.run(["umount", "-l", str(m)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def _inside(merged: Path, *cmd: str, net: bool = False) -> list[str]:
    base = [] if net else ["unshare", "--net", "--"]
    # HOME=/root as for any root build; Debian's rpm keeps its database under $HOME (~/.rpmdb)
    env = ["/usr/bin/env", "-i", f"PATH={INSIDE_PATH}", "HOME=/root", "LC_ALL=C", "TZ=UTC"]
    return [*base, "chroot", str(merged), *env, *cmd]


def missing_requires(merged: Path, requires: list[str]) -> list[str]:
    out = []
    for req in requires:
        name = req.split()[0]
        proc = subprocess.run(
            _inside(merged, "rpm", "-q", "--whatprovides", name), capture_output=True
        )
        if proc.returncode != 0:
            out.append(name)
    return out


def _repo_index(repo: Path) -> dict[str, Path]:
    """Capability -> RPM file in the local repository (names and Provides, by header)."""
    import rpm

    index: dict[str, Path] = {}
    ts = rpm.TransactionSet()
    ts.setVSFlags(rpm.RPMVSF_MASK_NOSIGNATURES)
    for f in sorted(repo.rglob("*.rpm")):
        if f.name.endswith(".src.rpm"):
            continue
        with open(f, "rb") as fh:
            hdr = ts.hdrFromFdno(fh.fileno())
        for cap in [hdr[rpm.RPMTAG_NAME], *(hdr[rpm.RPMTAG_PROVIDENAME] or [])]:
            index.setdefault(cap.decode() if isinstance(cap, bytes) else str(cap), f)
    return index


def install_requires(merged: Path, requires: list[str], repo: Path | None, log: Path) -> None:
    """Install missing BuildRequires from the local repository: with tdnf or dnf inside the
    chroot when it has one (EMT's worker chroot has tdnf), else by resolving them in the local
    repository and installing the RPM files with the chroot's own rpm."""
    missing = missing_requires(merged, requires)
    if not missing:
        return
    if repo is not None and (merged / "usr/bin/tdnf").exists():
        cmd = [
            "tdnf",
            "-y",
            "--disablerepo=*",
            f"--repofrompath=emtk3s,{REPO_INSIDE}",
            "install",
            *missing,
        ]
        rpmtools.run_logged(_inside(merged, *cmd), log.with_suffix(".deps.log"))
    elif repo is not None and (merged / "usr/bin/dnf").exists():
        cmd = [
            "dnf",
            "-y",
            "--disablerepo=*",
            f"--repofrompath=emtk3s,file://{REPO_INSIDE}",
            "--nogpgcheck",
            "install",
            *missing,
        ]
        rpmtools.run_logged(_inside(merged, *cmd), log.with_suffix(".deps.log"))
    elif repo is not None:
        index = _repo_index(repo)
        files: list[Path] = []
        todo = [m for m in missing if m in index]
        import rpm

        ts = rpm.TransactionSet()
        ts.setVSFlags(rpm.RPMVSF_MASK_NOSIGNATURES)
        while todo:  # the closure of Requires that the local repository itself provides
            f = index[todo.pop()]
            if f in files:
                continue
            files.append(f)
            with open(f, "rb") as fh:
                hdr = ts.hdrFromFdno(fh.fileno())
            for r in hdr[rpm.RPMTAG_REQUIRENAME] or []:
                r = r.decode() if isinstance(r, bytes) else str(r)
                if r in index and index[r] not in files:
                    todo.append(r)
        if files:
            inside = [f"{REPO_INSIDE}/{f.relative_to(repo)}" for f in files]
            # system libraries of a non-RPM chroot are not in its rpm database: their
            # auto-generated Requires (libc.so.6…) cannot be checked here, only the packages'
            rpmtools.run_logged(
                _inside(merged, "rpm", "-i", "--nodeps", *inside), log.with_suffix(".deps.log")
            )
    still = missing_requires(merged, requires)
    if still:
        raise EnvironmentProblem(
            f"BuildRequires not available in the chroot: {', '.join(still)}",
            "build the packages that provide them first (emtk3s chain), or use a chroot that has them",
        )


def rebuild_chroot(
    project: Project, info: SrpmInfo, chroot: Path, repo: Path | None = None, force: bool = False
) -> BuildInfo:
    for tool in ("unshare", "chroot", "mount"):
        rpmtools.need(tool)
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            "the chroot backend needs root (mount, chroot)", "run as root or use --backend mock"
        )
    root, root_key = prepare(chroot, project.cache)
    if not (root / "usr/bin/rpmbuild").exists():
        raise EnvironmentProblem(
            f"chroot {chroot}: no rpmbuild inside", "install rpm-build in the chroot"
        )
    hdr = rpmtools.read_header(info.path)
    # up to date = same SRPM, same chroot, same RPMs providing its BuildRequires
    deps_key = ""
    if repo is not None and repo.is_dir():
        index = _repo_index(repo)
        deps_key = ",".join(
            f"{r}={sha256_file(index[r.split()[0]])}"
            for r in sorted(hdr["requires"])
            if r.split()[0] in index
        )

    def run(work: Path, log: Path) -> list[Path]:
        with build_root(root, project.work / "chroots", repo) as merged:
            builddir = merged / "builddir"
            builddir.mkdir(exist_ok=True)
            shutil.copyfile(info.path, builddir / info.path.name)
            shutil.copyfile(data_file("emt.macros"), builddir / "emt.macros")
            install_requires(merged, hdr["requires"], repo, log)
            cmd = _inside(
                merged,
                f"SOURCE_DATE_EPOCH={hdr['buildtime']}",
                "rpmbuild",
                "--rebuild",
                "--load",
                "/builddir/emt.macros",
                "--define",
                "_topdir /builddir/build",
                f"/builddir/{info.path.name}",
            )
            rpmtools.run_logged(cmd, log)
            made = sorted((builddir / "build" / "RPMS").rglob("*.rpm"))
            out = []
            for f in made:
                shutil.copyfile(f, work / f.name)
                out.append(work / f.name)
            return out

    return stamped_build(project, info, "chroot", [root_key, deps_key], run, force)
