"""The chroot backend: build an SRPM inside an EMT toolchain (worker) chroot, as EMT's pipeline
does — no network, BuildRequires from a local repository, the cached chroot left clean.

Every command in the chroot runs in the build sandbox (infra/sandbox.py): own mount, pid,
network, ipc and uts namespaces, only the capabilities a root build needs, a private /dev, a
fresh /proc, killed with its parent. Nothing is mounted in the host's namespace; a start-up
sweep (:func:`sweep`) removes what an older emtk3s, which did mount there, left behind.

A chroot is a directory or a tarball (the toolkit's ``worker_chroot.tar.gz``); a tarball is
unpacked once into the cache, keyed by its sha256. Each build runs on an overlay (or, where
overlayfs is not available, a copy) of it, so the cached tree never changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from emtk3s.builders import outputs
from emtk3s.builders.rpmbuild import built_sha256, stamped_build
from emtk3s.infra import procs, sandbox
from emtk3s.infra.cache import Cache, sha256_file, stat_record, still_verified, trust_record
from emtk3s.infra.errors import BuildError, EnvironmentProblem, InputError
from emtk3s.infra.fsutil import file_lock, write_if_changed
from emtk3s.infra.paths import Project, data_file
from emtk3s.infra.sandbox import Sandbox
from emtk3s.model.artifacts import BuildInfo, SrpmInfo

REPO_INSIDE = "/emtk3s-repo"


def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess[str]:
    proc = procs.run(cmd, text=True)
    if proc.returncode != 0:
        raise BuildError(
            f"{what} failed: {' '.join((proc.stderr or proc.stdout).split())[:300]}", ""
        )
    return proc


def tarball_sha256(source: Path, cache: Cache) -> str:
    """The sha256 of a worker chroot tarball, read again only when the sealed stat record taken
    when it was last hashed no longer holds (infra/cache.py): EMT's worker_chroot.tar.gz is
    hundreds of MB, and every package of a chain asks for it on every run."""
    memo = cache.root / "chroots" / "by-path" / hashlib.sha256(str(source).encode()).hexdigest()
    try:
        known = json.loads(memo.read_text())
        if isinstance(known, dict) and isinstance(known.get("sha256"), str):
            if still_verified(source, known.get("stat"), cache.verify):
                return str(known["sha256"])
    except (OSError, ValueError):
        pass
    before = stat_record(source)
    sha = sha256_file(source)
    if before is not None and stat_record(source) == before:  # not changed while read
        sealed = trust_record(source, before)
        with contextlib.suppress(OSError):  # a read-only cache still works; it rehashes
            write_if_changed(
                memo, json.dumps({"sha256": sha, "stat": sealed}).encode(), durable=False
            )
    return sha


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
    sha = tarball_sha256(source, cache)
    dest = cache.root / "chroots" / sha
    sweep_unpacks(cache.root)  # what a killed unpack of any chroot left
    with file_lock(cache.lock_for(f"chroot-{sha}")):
        if not (dest / ".complete").exists():
            shutil.rmtree(dest, ignore_errors=True)
            with _unpack_dir(cache.root) as tmp:
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
    return dest / "root", f"tar:{sha}"


UNPACK_PREFIX = ".unpack-"
#: an unpack directory without an owner lock (an emtk3s before owner locks) is taken for
#: abandoned once it is this old: unpacking a worker chroot takes seconds to a few minutes
LEGACY_UNPACK_AGE = 3600


@contextlib.contextmanager
def _unpack_dir(parent: Path) -> Iterator[Path]:
    """A fresh ``.unpack-*/`` in ``parent`` for one unpack, owned by this process: an owner
    lock beside the tree (``.unpack-X.owner``, flock held until the end, released if the
    process dies) tells :func:`sweep_unpacks` the tree is in use. The lock is taken on a
    temporary name and renamed into place, so no sweep ever sees an unheld owner file."""
    tmp = Path(tempfile.mkdtemp(prefix=UNPACK_PREFIX, dir=parent))
    owner = tmp.with_name(tmp.name + ".owner")
    pending = tmp.with_name(tmp.name + ".owner.new")
    fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.replace(pending, owner)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        owner.unlink(missing_ok=True)
        pending.unlink(missing_ok=True)
        os.close(fd)


def sweep_unpacks(parent: Path) -> list[str]:
    """Remove the ``.unpack-*`` trees a killed unpack left in ``parent`` (the cache root):
    only directories with that prefix (never through a symlink), only when no live process
    holds their owner lock; a tree without one (an older emtk3s) only when it is older than
    :data:`LEGACY_UNPACK_AGE`. Returns the names removed."""
    removed: list[str] = []
    try:
        candidates = sorted(p for p in parent.iterdir() if p.name.startswith(UNPACK_PREFIX))
    except OSError:
        return removed
    for d in candidates:
        if d.name.endswith((".owner", ".owner.new")) or d.is_symlink() or not d.is_dir():
            continue
        owner = d.with_name(d.name + ".owner")
        try:
            fd = os.open(owner, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            try:
                age = time.time() - d.lstat().st_mtime
            except OSError:
                continue
            if age < LEGACY_UNPACK_AGE:
                continue  # maybe an older emtk3s unpacking right now
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live unpack
            shutil.rmtree(d, ignore_errors=True)
            owner.unlink(missing_ok=True)
            removed.append(d.name)
        finally:
            os.close(fd)
    return removed


CHROOTS_LOCK = ".in-use"
SWEEP_LOCK = ".sweep.lock"


def _mountinfo_points() -> list[str]:
    """Mount points of this process's mount namespace (octal escapes decoded)."""
    out = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) > 4:
                out.append(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4]))
    return out


def sweep(scratch: Path) -> list[str]:
    """Start-up sweep: unmount whatever an older emtk3s (which mounted in the host's namespace)
    left under ``scratch``, then remove build roots no running build holds. Returns what was
    unmounted. Refuses to delete a tree that still has a mount inside."""
    if not scratch.is_dir():
        return []
    base = os.path.realpath(scratch)
    stale = [m for m in _mountinfo_points() if m.startswith(base + "/")]
    for m in sorted(stale, key=lambda p: p.count("/"), reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)
    left = [m for m in _mountinfo_points() if m.startswith(base + "/")]
    if left:
        raise EnvironmentProblem(
            f"{left[0]}: still mounted (left by an earlier emtk3s build)",
            f"unmount it (umount -l {left[0]}) before removing {scratch}",
        )
    with file_lock(scratch / SWEEP_LOCK):
        _remove_unheld(scratch)
    return stale


def _remove_unheld(scratch: Path) -> None:
    for d in sorted(scratch.glob("root-*")):
        try:
            fh = open(d / CHROOTS_LOCK, "a+")  # noqa: SIM115 (held only for the check below)
        except OSError:
            fh = None  # an older version's tree: no lock file; nothing is mounted in it now
        try:
            if fh is not None:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a build running now
            shutil.rmtree(d, ignore_errors=True)
        finally:
            if fh is not None:
                fh.close()


@dataclass
class BuildSession:
    """A throwaway root: what is written below ``top`` appears at ``/`` inside; ``run``
    executes a command in it, sandboxed (infra/sandbox.py)."""

    top: Path
    lower: Path
    repo: Path | None
    sb: Sandbox

    def run(self, argv: list[str], log: Path | None = None) -> subprocess.CompletedProcess[bytes]:
        return sandbox.run(self.sb, argv, log=log)

    def run_logged(self, argv: list[str], log: Path) -> None:
        log.unlink(missing_ok=True)
        proc = self.run(argv, log)
        if proc.returncode != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-15:]
            raise BuildError(
                f"{argv[0]} failed in the chroot with exit code {proc.returncode}; log: {log}",
                "read the log; the last lines are shown above",
                details="\n".join(tail) + "\n",
            )


@contextlib.contextmanager
def build_root(
    root: Path, scratch: Path, repo: Path | None, env: dict[str, str] | None = None
) -> Iterator[BuildSession]:
    """A throwaway root over ``root``: an overlay mounted only inside each sandboxed command's
    private mount namespace, or a copy where overlayfs does not mount; the local repository
    bound read-only; the scratch tree removed on exit. Nothing is mounted in the host's
    namespace, so a killed build leaves no mount behind."""
    scratch.mkdir(parents=True, exist_ok=True)
    with file_lock(scratch / SWEEP_LOCK):  # a sweep never sees the tree before it is held
        work = Path(tempfile.mkdtemp(prefix="root-", dir=scratch))
        lock = open(work / CHROOTS_LOCK, "w")  # noqa: SIM115 (held for the build's lifetime)
        fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        upper, wdir, merged = work / "upper", work / "work", work / "merged"
        for d in (upper, wdir, merged):
            d.mkdir()
        ov = sandbox.Overlay(root, upper, wdir, merged)
        top: Path
        base: Path | sandbox.Overlay
        if sandbox.overlay_works(ov):
            top, base = upper, ov
        else:
            _run(["cp", "-a", "--reflink=auto", f"{root}/.", str(merged)], "copying the chroot")
            top, base = merged, merged
        binds = (sandbox.Bind(repo, REPO_INSIDE),) if repo is not None else ()
        sb = sandbox.Sandbox(
            root=base,
            binds=binds,
            caps=sandbox.BUILD_CAPS,
            env={"HOME": "/root", **(env or {})},
        )
        yield BuildSession(top, root, repo, sb)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        lock.close()


def missing_requires(br: BuildSession, requires: list[str]) -> list[str]:
    names = sorted({req.split()[0] for req in requires})
    if not names:
        return []
    proc = br.run(["rpm", "-q", "--whatprovides", *names])
    if proc.returncode == 0:
        return []
    out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
    missing = {m.group(1) for m in re.finditer(r"no package provides (\S+)", out)}
    return [n for n in names if n in missing] or names


def _repo_index(repo: Path, memo: Path | None = None) -> dict[str, Path]:
    """Capability -> RPM file in the local repository (names and Provides, by header).

    ``memo``: a file remembering each RPM's capabilities under its sealed stat record, so that
    only new or changed RPMs are read (and the rpm bindings load only then): an up-to-date
    chain asks for the index once per package."""
    files = sorted(f for f in repo.rglob("*.rpm") if not f.name.endswith(".src.rpm"))
    known: dict[str, object] = {}
    if memo is not None:
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(memo.read_text())
            known = loaded if isinstance(loaded, dict) else {}
    caps_of: dict[str, list[str]] = {}
    records: dict[str, object] = {}  # what the memo keeps: relative path -> caps and stat
    todo: list[Path] = []
    for f in files:
        rel = f.relative_to(repo).as_posix()
        entry = known.get(rel)
        if isinstance(entry, dict) and isinstance(entry.get("caps"), list):
            if still_verified(f, entry.get("stat")):
                caps_of[rel], records[rel] = [str(c) for c in entry["caps"]], entry
                continue
        todo.append(f)
    if todo:
        import rpm

        ts = rpm.TransactionSet()
        ts.setVSFlags(rpm.RPMVSF_MASK_NOSIGNATURES)
        for f in todo:
            before = stat_record(f)
            with open(f, "rb") as fh:
                hdr = ts.hdrFromFdno(fh.fileno())
            caps = [hdr[rpm.RPMTAG_NAME], *(hdr[rpm.RPMTAG_PROVIDENAME] or [])]
            names = [c.decode() if isinstance(c, bytes) else str(c) for c in caps]
            rel = f.relative_to(repo).as_posix()
            sealed = trust_record(f, before) if before is not None else None
            caps_of[rel], records[rel] = names, {"caps": names, "stat": sealed}
    if memo is not None and records != known:
        with contextlib.suppress(OSError):
            write_if_changed(memo, json.dumps(records, sort_keys=True).encode(), durable=False)
    index: dict[str, Path] = {}
    for f in files:
        for cap in caps_of[f.relative_to(repo).as_posix()]:
            index.setdefault(cap, f)
    return index


def install_requires(br: BuildSession, requires: list[str], log: Path) -> None:
    """Install missing BuildRequires from the local repository: with tdnf or dnf inside the
    chroot when it has one (EMT's worker chroot has tdnf), else by resolving them in the local
    repository and installing the RPM files with the chroot's own rpm."""
    repo = br.repo
    missing = missing_requires(br, requires)
    if not missing:
        return
    if repo is not None and (br.lower / "usr/bin/tdnf").exists():
        cmd = [
            "tdnf",
            "-y",
            "--disablerepo=*",
            f"--repofrompath=emtk3s,{REPO_INSIDE}",
            "install",
            *missing,
        ]
        br.run_logged(cmd, log.with_suffix(".deps.log"))
    elif repo is not None and (br.lower / "usr/bin/dnf").exists():
        cmd = [
            "dnf",
            "-y",
            "--disablerepo=*",
            f"--repofrompath=emtk3s,file://{REPO_INSIDE}",
            "--nogpgcheck",
            "install",
            *missing,
        ]
        br.run_logged(cmd, log.with_suffix(".deps.log"))
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
            br.run_logged(["rpm", "-i", "--nodeps", *inside], log.with_suffix(".deps.log"))
    still = missing_requires(br, requires)
    if still:
        raise EnvironmentProblem(
            f"BuildRequires not available in the chroot: {', '.join(still)}",
            "build the packages that provide them first (emtk3s chain), or use a chroot that has them",
        )


def rebuild_chroot(
    project: Project,
    info: SrpmInfo,
    chroot: Path,
    repo: Path | None = None,
    force: bool = False,
    keep_other: bool = False,
) -> BuildInfo:
    sandbox.require()
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            "the chroot backend needs root (overlay mounts, a root-owned build tree)",
            "run as root or use --backend mock",
        )
    scratch = project.work / "chroots"
    sweep(scratch)
    root, root_key = prepare(chroot, project.cache)
    if not (root / "usr/bin/rpmbuild").exists():
        raise EnvironmentProblem(
            f"chroot {chroot}: no rpmbuild inside", "install rpm-build in the chroot"
        )
    buildtime, requires = info.header()
    # up to date = same SRPM, same chroot, same RPMs providing its BuildRequires
    deps_key = ""
    if repo is not None and repo.is_dir():
        index = _repo_index(repo, project.root / ".emtk3s" / "repo-index.json")
        deps_key = ",".join(
            f"{r}={built_sha256(project, index[r.split()[0]])}"
            for r in sorted(requires)
            if r.split()[0] in index
        )

    def run(work: Path, log: Path) -> list[Path]:
        env = {"SOURCE_DATE_EPOCH": str(buildtime)}
        with build_root(root, scratch, repo, env) as br:
            builddir = br.top / "builddir"
            builddir.mkdir(exist_ok=True)
            shutil.copyfile(info.path, builddir / info.path.name)
            shutil.copyfile(data_file("emt.macros"), builddir / "emt.macros")
            install_requires(br, list(requires), log)
            cmd = [
                "rpmbuild",
                "--rebuild",
                "--load",
                "/builddir/emt.macros",
                "--define",
                "_topdir /builddir/build",
                f"/builddir/{info.path.name}",
            ]
            br.run_logged(cmd, log)
            # the tree the build wrote is walked without following links (outputs.copy_out)
            return outputs.copy_out(br.top, "builddir/build/RPMS", work / "out")

    return stamped_build(project, info, "chroot", [root_key, deps_key], run, force, keep_other)
