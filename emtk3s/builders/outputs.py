"""What the host accepts from a build: RPM files, each checked before anything is published.

A build is not trusted. Whatever it leaves in its output directory is data: a file there may be
a symbolic link to a host file (``/root/secret``), a hard link to one, a FIFO, a directory named
``*.rpm``, or an RPM whose header says its arch is ``../../../etc``. Publishing takes the arch
from the header to choose ``RPMS/<arch>/``, so the header is checked before it names a path.

Rules (every backend, and the srpm stage's own SRPM):

- a result is found without following a symbolic link (no component of its path is a link) and
  opened with ``O_NOFOLLOW``: a regular file with one link, else refused;
- its header (read from that open file) names a package the SRPM's spec declares (``%package``
  lines of the spec kept in the SRPM header, with rpm's automatic ``-debuginfo``/``-debugsource``),
  the SRPM's version and release, an arch in :data:`ARCHES` (``src`` only for the SRPM itself),
  and the file is named ``<name>-<version>-<release>.<arch>.rpm`` exactly;
- all results are checked first; one refused result publishes none (exit 3, naming the file);
- a checked file is renamed into ``RPMS/<arch>/`` and must still be the inode that was checked
  (else it is removed again and refused; no stamp names it, so the next run remakes it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from emtk3s.infra.errors import IntegrityError

#: architectures a binary RPM of this project may carry
ARCHES = frozenset({"x86_64", "aarch64", "noarch"})

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO planted under a result name must not hang the host
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_HINT = "the build made a file emtk3s does not publish; read the build log"


def _refuse(path: Path | str, why: str) -> IntegrityError:
    return IntegrityError(f"build output {path}: {why}; nothing was published", _HINT)


@dataclass(frozen=True)
class Expected:
    """What a build of one SRPM may produce."""

    names: frozenset[str]
    version: str | None  # None: any (the srpm stage: the header names it, the file name agrees)
    release: str | None
    source: bool = False  # the srpm stage: one source package of the spec's own name


def _header(fd: int) -> dict[str, object]:
    import rpm

    ts = rpm.TransactionSet()
    ts.setVSFlags(rpm.RPMVSF_MASK_NOSIGNATURES)  # type: ignore[attr-defined]
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        hdr = ts.hdrFromFdno(fd)
    except rpm.error as exc:  # type: ignore[attr-defined]
        raise ValueError(str(exc)) from None

    def s(tag: int) -> str:
        v = hdr[tag]
        return v.decode(errors="replace") if isinstance(v, bytes) else "" if v is None else str(v)

    return {
        "name": s(rpm.RPMTAG_NAME),
        "version": s(rpm.RPMTAG_VERSION),
        "release": s(rpm.RPMTAG_RELEASE),
        "arch": s(rpm.RPMTAG_ARCH),
        "source_package": bool(hdr[rpm.RPMTAG_SOURCEPACKAGE]),
        "spec": s(rpm.RPMTAG_SPEC) if hasattr(rpm, "RPMTAG_SPEC") else "",
    }


def declared_names(main: str, spec_text: str) -> frozenset[str]:
    """Binary package names a spec declares: its Name, each ``%package X`` (``main-X``) and
    ``%package -n X``, and rpm's automatic debug packages of each. The spec text is the one
    rpmbuild kept in the SRPM header (macros already expanded there); it is only read."""
    names = {main}
    for line in spec_text.splitlines():
        words = line.split()
        if not words or words[0] != "%package":
            continue
        args = words[1:]
        if len(args) == 2 and args[0] == "-n":
            names.add(args[1])
        elif len(args) == 1:
            names.add(f"{main}-{args[0]}")
    debug = {f"{n}-debuginfo" for n in names} | {f"{main}-debugsource"}
    return frozenset(names | debug)


def expected_from_srpm(srpm: Path) -> Expected:
    """What a build of ``srpm`` may publish (read from its header: data, nothing expanded)."""
    fd = os.open(srpm, _FILE_FLAGS)
    try:
        try:
            hdr = _header(fd)
        except ValueError as exc:
            raise IntegrityError(f"{srpm}: not a readable RPM ({exc})", "run emtk3s srpm") from None
    finally:
        os.close(fd)
    name = str(hdr["name"])
    return Expected(
        declared_names(name, str(hdr["spec"])), str(hdr["version"]), str(hdr["release"])
    )


def find_rpms(top: Path) -> list[Path]:
    """Every entry named ``*.rpm`` below ``top``, symbolic links included (listed, so that
    :func:`publish` refuses them by name), never descending through a link."""
    found: list[Path] = []
    if not top.is_dir() or top.is_symlink():
        return found
    for dirpath, dirs, files in os.walk(top, followlinks=False):
        for name in [*files, *dirs]:
            if name.endswith(".rpm"):
                found.append(Path(dirpath) / name)
    return sorted(found)


@contextlib.contextmanager
def _open_dir(base: Path, parts: tuple[str, ...]) -> Iterator[int]:
    """A descriptor of ``base/parts...`` reached one component at a time with O_NOFOLLOW."""
    fd = os.open(base, _DIR_FLAGS)
    try:
        for part in parts:
            if part in ("", ".", ".."):
                raise OSError(errno.EINVAL, "not a plain path component", part)
            nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
        yield fd
    finally:
        os.close(fd)


def copy_out(top: Path, rel: str, dest: Path) -> list[Path]:
    """Copy the regular ``*.rpm`` files below ``top/rel`` (one level of arch directories) into
    ``dest``, never following a link: a tree the build wrote (its overlay's upper directory)
    is walked from ``top`` through descriptors, so a ``/builddir`` replaced by a link to a host
    directory, or an RPM that is a link to a host file, is refused, not read."""
    dest.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    parts = tuple(p for p in rel.split("/") if p)
    try:
        with _open_dir(top, parts) as rpms_fd:
            entries = sorted(os.listdir(rpms_fd))
            for sub in entries:
                st = os.stat(sub, dir_fd=rpms_fd, follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    with _open_dir(top, (*parts, sub)) as sub_fd:
                        for name in sorted(os.listdir(sub_fd)):
                            if name.endswith(".rpm"):
                                out.append(_copy_one(sub_fd, name, f"{rel}/{sub}/{name}", dest))
                elif sub.endswith(".rpm"):
                    out.append(_copy_one(rpms_fd, sub, f"{rel}/{sub}", dest))
    except FileNotFoundError:
        return out
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _refuse(f"{top}/{rel}", "a directory on its path is a symbolic link") from None
        raise
    return out


def _copy_one(dir_fd: int, name: str, shown: str, dest: Path) -> Path:
    try:
        src = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(shown, "is a symbolic link") from None
        raise
    try:
        st = os.fstat(src)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(shown, "is not a regular file")
        if st.st_nlink != 1:
            raise _refuse(shown, f"has {st.st_nlink} hard links")
        target = dest / name
        if target.exists() or target.is_symlink():
            raise _refuse(shown, "two results of one name")
        os.set_blocking(src, True)
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            while os.sendfile(out, src, None, 1 << 24):
                pass
        finally:
            os.close(out)
    finally:
        os.close(src)
    return target


@dataclass
class _Checked:
    path: Path
    fd: int
    st: os.stat_result
    arch: str


def _check(path: Path, work: Path, exp: Expected) -> _Checked:
    try:
        parts = path.relative_to(work).parts
    except ValueError:
        raise _refuse(path, f"not inside the build's directory {work}") from None
    if not parts or any(p in ("", ".", "..") for p in parts):
        raise _refuse(path, "not a plain path")
    try:
        with _open_dir(work, parts[:-1]) as dfd:
            fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=dfd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _refuse(path, "is (or lies below) a symbolic link") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(path, "is not a regular file")
        if st.st_nlink != 1:
            raise _refuse(path, f"has {st.st_nlink} hard links (a link to another file)")
        try:
            hdr = _header(fd)
        except ValueError as exc:
            raise _refuse(path, f"is not a readable RPM ({exc})") from None
        name, version, release = str(hdr["name"]), str(hdr["version"]), str(hdr["release"])
        if exp.source:
            if not hdr["source_package"]:
                raise _refuse(path, "is not a source RPM")
            arch = "src"
        else:
            arch = str(hdr["arch"])
            if hdr["source_package"]:
                raise _refuse(path, "is a source RPM where binary RPMs were expected")
            if arch not in ARCHES:
                raise _refuse(path, f"header arch {arch[:60]!r} is not one of {sorted(ARCHES)}")
        if name not in exp.names:
            raise _refuse(path, f"package {name[:60]!r} is not one the SRPM's spec declares")
        if exp.version is not None and (version, release) != (exp.version, exp.release):
            raise _refuse(
                path,
                f"version-release {version[:40]}-{release[:40]} is not the SRPM's "
                f"{exp.version}-{exp.release}",
            )
        if path.name != f"{name}-{version}-{release}.{arch}.rpm":
            raise _refuse(path, f"its header says {name}-{version}-{release}.{arch}.rpm")
        return _Checked(path, fd, st, arch)
    except BaseException:
        os.close(fd)
        raise


def publish(made: list[Path], work: Path, dest: Path, exp: Expected) -> list[Path]:
    """Check every result of a build (see the module's rules), then move each into
    ``dest/<arch>/`` (``dest`` itself for an SRPM). Returns the published paths."""
    checked: list[_Checked] = []
    try:
        for path in made:
            checked.append(_check(path, work, exp))
        names = [c.path.name for c in checked]
        if len(set(names)) != len(names):
            raise _refuse(work, "two results of one name")
        return [_move(c, dest if exp.source else dest / c.arch) for c in checked]
    finally:
        for c in checked:
            os.close(c.fd)


def _move(c: _Checked, dest_dir: Path) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    if dest_dir.is_symlink():
        raise _refuse(dest_dir, "the output directory is a symbolic link")
    final = dest_dir / c.path.name
    # the old file goes first (see fsutil.move_into: a rename over it costs a writeback)
    final.unlink(missing_ok=True)
    try:
        os.replace(c.path, final)  # renames the directory entry; a link would move as a link
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        tmp = dest_dir / f".{c.path.name}.tmp"
        tmp.unlink(missing_ok=True)
        _copy_fd(c.fd, tmp)  # another file system: the checked bytes themselves
        os.replace(tmp, final)
        return final
    now = os.stat(final, follow_symlinks=False)
    if (now.st_dev, now.st_ino) != (c.st.st_dev, c.st.st_ino) or not stat.S_ISREG(now.st_mode):
        final.unlink(missing_ok=True)  # no stamp names it: the next run makes it again
        raise _refuse(c.path, "was replaced while it was being checked")
    return final


def _copy_fd(src: int, target: Path) -> None:
    os.set_blocking(src, True)
    os.lseek(src, 0, os.SEEK_SET)
    out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        while os.sendfile(out, src, None, 1 << 24):
            pass
    except BaseException:
        os.close(out)
        target.unlink(missing_ok=True)
        raise
    os.close(out)


def payload_sha256(path: Path) -> dict[str, str]:
    """File name -> sha256 of every regular file in an RPM's payload, hashed here from the
    payload's bytes (the header's file digests are the SRPM's own claim, not evidence)."""
    import hashlib

    import rpm

    fd = os.open(path, _FILE_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise IntegrityError(f"{path}: not a regular file", "run emtk3s srpm --force")
        os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as fh:
            ts = rpm.TransactionSet()
            ts.setVSFlags(rpm.RPMVSF_MASK_NOSIGNATURES)  # type: ignore[attr-defined]
            out: dict[str, str] = {}
            try:
                hdr = ts.hdrFromFdno(fh.fileno())
                # no compressor recorded: an uncompressed payload (the SRPMs emt.macros makes)
                compressor = hdr["payloadcompressor"] or "ufdio"
                payload = rpm.fd(fh, "r", flags=compressor)
                archive = rpm.files(hdr).archive(payload)
                for fi in archive:
                    if not archive.hascontent():
                        continue
                    h = hashlib.sha256()
                    while chunk := archive.read(1 << 20):
                        h.update(chunk)
                    out[str(fi.name)] = h.hexdigest()
            except rpm.error as exc:  # type: ignore[attr-defined]
                raise IntegrityError(
                    f"{path}: its payload cannot be read ({exc})", "run emtk3s srpm --force"
                ) from None
            return out
    finally:
        os.close(fd)
