"""srpm: SPECS/<pkg>/ + cache -> SRPMS/<nevr>.src.rpm, reproducibly.

``rpmbuild -bs`` in a private ``_topdir``; SOURCE_DATE_EPOCH is the commit time of the
package's upstream tag, source mtimes are clamped to it, the build host is a constant.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from emtk3s.builders import outputs
from emtk3s.infra import stamps
from emtk3s.infra.cache import Cache, durable_record, sha256_file, still_verified, trust_record
from emtk3s.infra.errors import BuildError, EnvironmentProblem, IntegrityError, PreconditionError
from emtk3s.infra.fsutil import copy_file, file_lock
from emtk3s.infra.paths import Project
from emtk3s.infra.rpm import macros as emt_macros
from emtk3s.infra.rpm import tools as rpmtools
from emtk3s.infra.rpm.header import read_header
from emtk3s.model.artifacts import SrpmInfo
from emtk3s.model.lock import Lock
from emtk3s.model.package import Catalog
from emtk3s.model.readiness import not_renderable, refuse_pending
from emtk3s.stages.context import StageRun


def _header_fields(stamp: dict[str, object]) -> tuple[int | None, tuple[str, ...] | None]:
    """The header facts a stamp recorded (None for a stamp written before they were)."""
    buildtime, requires = stamp.get("buildtime"), stamp.get("requires")
    if not isinstance(buildtime, int) or not isinstance(requires, list):
        return None, None
    return buildtime, tuple(str(r) for r in requires)


NAME = "srpm"


@dataclass
class SrpmResult:
    srpms: list[SrpmInfo] = field(default_factory=list)


def source_date_epoch(lock: Lock, pkg: str) -> int:
    comp = lock.components[lock.packages[pkg].component]
    if comp.commit_time is None:
        raise IntegrityError(
            f"{pkg}: {comp.repo} {comp.tag} has no verified commit", "run emtk3s resolve --refresh"
        )
    return comp.commit_time


def _inputs(
    project: Project, lock: Lock, pkg: str
) -> tuple[Path, list[tuple[str, str]], list[Path]]:
    spec_dir = project.specs / pkg
    spec = spec_dir / f"{pkg}.spec"
    if not spec.is_file():
        raise PreconditionError(f"{spec}: no rendered spec", "run emtk3s render first")
    sigs_file = spec_dir / f"{pkg}.signatures.json"
    try:
        sigs = json.loads(sigs_file.read_text())["Signatures"]
    except (FileNotFoundError, ValueError, KeyError):
        raise PreconditionError(
            f"{sigs_file}: missing or not valid", "run emtk3s render first"
        ) from None
    sources = []
    for src in lock.packages[pkg].sources:
        if sigs.get(src.name) != src.sha256:
            raise IntegrityError(
                f"{sigs_file}: {src.name} is {sigs.get(src.name)}, the lock pins {src.sha256}",
                "run emtk3s render so SPECS/ matches the lock (and review why they differ)",
            )
        sources.append((src.name, src.sha256 or ""))
    patches = sorted(spec_dir.glob("*.patch"))
    return spec, sources, patches


#: free space under which a failed %prep is taken for a full disk (GNU tar reports a short
#: write as "Wrote only N of M bytes", without ENOSPC's message)
_NEARLY_FULL = 256 << 10


def _out_of_space(log: Path, where: Path) -> bool:
    """Whether a failed rpmbuild ran out of room rather than failed a patch: its tools report
    ENOSPC/EDQUOT with their C-locale messages (the sandbox runs them with LC_ALL=C), or the file system
    it unpacked into is left (nearly) without free blocks. Checked before its tree is removed."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        text = ""
    if any(os.strerror(e) in text for e in (errno.ENOSPC, errno.EDQUOT)):
        return True
    try:
        st = os.statvfs(where)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < _NEARLY_FULL or st.f_favail == 0


def prove_patches_apply(
    top: Path, spec_name: str, log: Path, epoch: int, sources: list[Path] | None = None
) -> None:
    """``rpmbuild -bp`` in the SRPM's topdir: the package's patches apply to its sources.
    %prep may run upstream code (an upstream patch script), so it runs in the
    sandbox: only ``top`` writable, ``sources`` (what SOURCES/ links to) read-only, no network.

    ``_emtk3s_prep_check`` lets a spec skip %prep steps that need BuildRequires installed (the
    k3s spec's tree from another package); everything else in %prep, %autopatch included, runs for real.
    """
    cmd = [
        "rpmbuild",
        "-bp",
        "--nodeps",
        *rpmtools.macro_args(top.resolve()),
        "--define",
        "_emtk3s_prep_check 1",
        f"SPECS/{spec_name}",
    ]
    from emtk3s.infra import sandbox

    try:
        rpmtools.run_sandboxed(
            cmd,
            log,
            cwd=top.resolve(),
            writable=[top.resolve()],
            readable=sources or [],
            env={"SOURCE_DATE_EPOCH": str(epoch)},
            timeout=sandbox.PREP_TIMEOUT,
        )
    except BuildError as exc:
        full = _out_of_space(log, top)
        shutil.rmtree(top / "BUILD", ignore_errors=True)  # what it unpacked: room again
        if full:
            raise EnvironmentProblem(
                f"{top / 'BUILD'}: no space left on device while proving the patches apply "
                f"(rpmbuild -bp); log: {log}",
                "free disk space and run again",
                details=exc.details,
            ) from None
        raise BuildError(
            f"{spec_name}: %prep failed (rpmbuild -bp): a patch does not apply or a Source is wrong; log: {log}",
            "refresh the patch against this upstream version",
            details=exc.details,
        ) from None
    shutil.rmtree(top / "BUILD", ignore_errors=True)


def check_contents(
    srpm: Path, spec: Path, sources: list[tuple[str, str]], patches: list[Path]
) -> None:
    """The files packed in ``srpm`` are exactly the spec in SPECS/, the patches beside it and
    the sources with the sha256 the lock pins, hashed from the SRPM's payload. A stamp says
    which SRPM is up to date; it is the project's own file, so an SRPM swapped together with
    its stamp passes the stamp's check and is caught here."""
    want = {spec.name: sha256_file(spec), **{p.name: sha256_file(p) for p in patches}}
    want.update(dict(sources))
    got = outputs.payload_sha256(srpm)
    if got != want:
        diff = sorted(n for n in set(want) | set(got) if want.get(n) != got.get(n))
        shown = ", ".join(
            f"{n} ({'not in the lock/SPECS' if n not in want else 'missing' if n not in got else 'differs'})"
            for n in diff[:4]
        )
        raise IntegrityError(
            f"{srpm}: its contents do not match the lock and SPECS/: {shown}",
            "remove the SRPM and its stamp, review how it changed, and run emtk3s srpm again",
        )


def _place_source(blob: Path, dest: Path, epoch: int) -> None:
    """Put a verified cache entry into SOURCES/ as rpmbuild must see it: mode 0644, mtime
    SOURCE_DATE_EPOCH. A symbolic link costs nothing and leaves the entry's inode (and so its
    stat record) untouched: rpmbuild follows it, reads the entry's 0644 mode, and records a
    blob newer than the epoch with the epoch (%clamp_mtime_to_source_date_epoch). A blob older
    than the epoch (a commit time ahead of the clock that downloaded it) or an older cache's
    0444 entry is copied and its mtime set instead. Either way the SRPM's bytes are the same.
    rpmbuild only reads SOURCES/; should anything write through a link, the entry's stat
    record changes and its next use rehashes it."""
    st = blob.stat()
    if st.st_mtime >= epoch and stat.S_IMODE(st.st_mode) == 0o644:
        os.symlink(blob, dest)
        return
    copy_file(blob, dest)
    os.chmod(dest, 0o644)
    os.utime(dest, (epoch, epoch))


def _no_room_for_srpm(top: Path, blobs: list[Path]) -> None:
    """rpmbuild reports a full disk as "cpio: write": when the SRPM's filesystem has less room
    left than the sources it packs, say so (exit 6, naming where it was written)."""
    need = sum(b.stat().st_size for b in blobs if b.exists())
    st = os.statvfs(top)
    if st.f_bavail * st.f_frsize < need + (1 << 20):
        raise EnvironmentProblem(
            f"{top / 'SRPMS'}: no space left on device while writing the SRPM "
            f"(it packs {need} bytes of sources)",
            "free disk space and run again",
        )


def build_srpm(
    project: Project, lock: Lock, cache: Cache, pkg: str, catalog: Catalog, force: bool = False
) -> SrpmInfo:
    refuse_pending(lock, pkg, "srpm", catalog)
    spec, sources, patches = _inputs(project, lock, pkg)
    epoch = source_date_epoch(lock, pkg)
    macros = emt_macros.data()
    key = stamps.digest(
        spec.read_bytes(),
        json.dumps(sources),
        *[p.name.encode() + b"\0" + p.read_bytes() for p in patches],
        macros,
        str(epoch),
    )
    log = project.logs / f"srpm-{pkg}.log"
    store = project.stamps
    with file_lock(project.locks / f"srpm-{pkg}.lock"):
        stamp = store.load(NAME, pkg)
        before = store.path(NAME, pkg, stamp.get("srpm"), stamps.SRPM_PATH) if stamp else None
        if stamp and before and stamp["key"] == key and not force:
            trusted = still_verified(before, stamp.get("stat"), cache.verify)
            if trusted or (before.is_file() and sha256_file(before) == stamp.get("sha256")):
                if cache.verify:  # --verify / --locked: the SRPM's contents, not its stamp
                    check_contents(before, spec, sources, patches)
                info = SrpmInfo(
                    pkg,
                    before,
                    stamp["sha256"],
                    str(stamp.get("nevr")),
                    True,
                    log,
                    *_header_fields(stamp),
                )
                if not trusted or info.buildtime is None:
                    # rehashed, or a stamp from before the header facts: record them once
                    buildtime, requires = info.header()
                    fields = {k: v for k, v in stamp.items() if k not in ("version", "key")}
                    record = durable_record(before) if not trusted else stamp.get("stat")
                    fields.update(stat=record, buildtime=buildtime, requires=list(requires))
                    store.save(NAME, pkg, key, **fields)
                return info
        present = cache.has_all([(sha, name) for name, sha in sources])
        for (name, _sha), ok in zip(sources, present, strict=True):
            if not ok:
                raise PreconditionError(
                    f"{pkg}: source {name} is not in the cache", "run emtk3s fetch first"
                )
        rpmtools.need("rpmbuild")
        if before is not None:
            # The SRPM being replaced goes first, as rpmbuild's own output would (it truncates):
            # left in place until the new one is published, its not yet written-back gigabyte
            # and the new one's together cross the kernel's dirty-page threshold and the writer
            # is throttled (bench_srpm: +1.2 s at 1 GB). A failed rebuild then leaves no SRPM
            # of older inputs behind; the stamp goes with it.
            store.file(NAME, pkg).unlink(missing_ok=True)
            before.unlink(missing_ok=True)  # inside this project (Stamps.path checks)
        # a directory of this run's own (the package's lock is held: any other is left over)
        project.work.mkdir(parents=True, exist_ok=True)
        for old in [project.work / f"srpm-{pkg}", *project.work.glob(f"srpm-{pkg}-*")]:
            shutil.rmtree(old, ignore_errors=True)
        top = Path(tempfile.mkdtemp(prefix=f"srpm-{pkg}-", dir=project.work))
        for d in ("SOURCES", "SPECS", "SRPMS", "BUILD", "RPMS"):
            (top / d).mkdir(parents=True)
        for name, sha in sources:
            _place_source(cache.blob_path(sha), top / "SOURCES" / name, epoch)
        for p in patches:
            dest = top / "SOURCES" / p.name
            copy_file(p, dest)
            os.chmod(dest, 0o644)
            os.utime(dest, (epoch, epoch))
        spec_copy = top / "SPECS" / spec.name
        copy_file(spec, spec_copy)
        os.utime(spec_copy, (epoch, epoch))
        # The SRPM header keeps the expanded spec (RPMTAG_SPEC) with %{SOURCEn} paths in it: a
        # relative _topdir (rpmbuild run inside it) keeps the bytes independent of where the
        # project lives.
        cmd = ["rpmbuild", "-bs", *rpmtools.macro_args(Path(".")), f"SPECS/{spec.name}"]
        try:
            rpmtools.run_logged(cmd, log, env={"SOURCE_DATE_EPOCH": str(epoch)}, cwd=top)
        except BuildError:
            _no_room_for_srpm(top, [cache.blob_path(sha) for _n, sha in sources])
            raise
        if patches:
            blobs = sorted({cache.blob_path(sha) for _n, sha in sources})  # these, not the cache
            prove_patches_apply(top, spec.name, project.logs / f"prep-{pkg}.log", epoch, blobs)
        made = sorted((top / "SRPMS").glob("*.src.rpm"))
        if len(made) != 1:
            raise BuildError(f"rpmbuild -bs made {len(made)} SRPMs for {pkg}; log: {log}", "")
        # checked like any build output (a regular file, this spec's source package, named
        # after its header) and published by rename
        expect = outputs.Expected(frozenset({pkg}), None, None, source=True)
        (out,) = outputs.publish(made, top / "SRPMS", project.srpms, expect)
        hdr = read_header(out)
        sha = sha256_file(out)  # once, here
        nevr = f"{hdr['name']}-{hdr['version']}-{hdr['release']}"
        buildtime, reqs = int(hdr["buildtime"]), [str(r) for r in hdr["requires"]]
        store.save(
            NAME,
            pkg,
            key,
            srpm=store.rel(out),
            sha256=sha,
            nevr=nevr,
            stat=trust_record(out),
            buildtime=buildtime,
            requires=reqs,
        )
        shutil.rmtree(top, ignore_errors=True)
        return SrpmInfo(pkg, out, sha, nevr, False, log, buildtime, tuple(reqs))


def srpm(
    project: Project,
    lock: Lock,
    catalog: Catalog,
    packages: list[str] | None = None,
    force: bool = False,
) -> SrpmResult:
    """SRPMs of the named packages; by default of every package that can be rendered (the
    others are listed by `emtk3s render` with the reason)."""
    result = SrpmResult()
    if packages is None:
        packages = [p for p in sorted(lock.packages) if not not_renderable(lock, p, catalog)]
    for pkg in packages:
        result.srpms.append(build_srpm(project, lock, project.cache, pkg, catalog, force))
    return result


def maker(
    project: Project, lock: Lock | None, catalog: Catalog
) -> Callable[[str], SrpmInfo | None]:
    """``name -> SrpmInfo`` for the chain: the SRPM of a package of the lock (made or up to
    date); None for a spec the lock does not know (the chain makes it from its directory)."""

    def make(name: str) -> SrpmInfo | None:
        if lock is None or name not in lock.packages:
            return None
        return build_srpm(project, lock, project.cache, name, catalog)

    return make


def run(r: StageRun) -> SrpmResult:
    lock = r.need_lock()
    packages = list(r.options.packages) or None
    if r.chained:
        wanted = packages or sorted(lock.packages)
        packages = [p for p in wanted if p not in r.unrendered and p not in r.uncached]
    return srpm(r.project, lock, r.catalog, packages, force=r.options.force)
