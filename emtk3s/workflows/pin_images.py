"""pin-images: the manifest digests of the image archives a built package holds, pinned in the
lock (as fetch pins a first download), so that the spec's %check compares every rebuild with
them.

The built RPMs (RPMS/<arch>/<package>-<version>-<release>*.rpm, or the ones named) are unpacked
into a scratch directory; each archive under usr/share/k3s/images/ names its image in its
index (``io.containerd.image.name``) and its manifest digest (the index's only manifest). A
digest the lock pins to another value is an integrity error unless ``repin``.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from emtk3s.infra.errors import InputError, IntegrityError
from emtk3s.infra.paths import Project
from emtk3s.infra.rpm import tools as rpmtools
from emtk3s.model import lock as lockmod
from emtk3s.model.release import Release

#: the RPM architecture -> the GOARCH in the archive names and the lock
GOARCH = {"x86_64": "amd64", "aarch64": "arm64"}
IMAGES_DIR = "usr/share/k3s/images"
NAME_ANNOTATION = "io.containerd.image.name"


def _header(rpm_file: Path) -> tuple[str, str, str]:
    """(name, version, arch) of a binary RPM."""
    rpmtools.need("rpm")
    res = subprocess.run(
        [
            "rpm",
            "-qp",
            "--nosignature",
            "--nodigest",
            "--qf",
            "%{NAME} %{VERSION} %{ARCH}",
            str(rpm_file),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=False,
    )
    fields = res.stdout.split()
    if res.returncode != 0 or len(fields) != 3:
        raise InputError(f"{rpm_file}: not a binary RPM ({res.stderr.strip()[:200]})", "name a built RPM")  # fmt: skip
    return fields[0], fields[1], fields[2]


def archive_digest(archive: Path) -> tuple[str, str]:
    """(image reference, manifest digest) of an OCI archive: its index.json read from the tar,
    nothing extracted."""
    where = str(archive)
    try:
        with tarfile.open(archive, "r:") as tar:
            member = tar.getmember("index.json")
            f = tar.extractfile(member) if member.isfile() and member.size < 1 << 20 else None
            if f is None:
                raise InputError(f"{where}: index.json is not a small regular file", "")
            index = json.loads(f.read())
        (manifest,) = index["manifests"]
        ref = manifest["annotations"][NAME_ANNOTATION]
        digest = manifest["digest"]
    except (tarfile.TarError, KeyError, ValueError, TypeError, OSError) as exc:
        raise InputError(
            f"{where}: not an OCI archive with one named manifest ({type(exc).__name__}: {exc})",
            "rebuild the package",
        ) from None
    if not (isinstance(ref, str) and lockmod.IMAGE_REF.fullmatch(ref)):
        raise InputError(f"{where}: {NAME_ANNOTATION} {ref!r} is not an image reference", "")
    if not (isinstance(digest, str) and lockmod.MANIFEST_DIGEST.fullmatch(digest)):
        raise InputError(f"{where}: manifest digest {digest!r} is not sha256:<hex>", "")
    return ref, digest


def rpm_digests(rpm_file: Path) -> tuple[str, dict[str, str]]:
    """(goarch, {reference: manifest digest}) of the archives one built RPM installs."""
    _, _, arch = _header(rpm_file)
    goarch = GOARCH.get(arch)
    if goarch is None:
        raise InputError(f"{rpm_file}: arch {arch} writes no image archives", "")
    rpmtools.need("rpm2cpio")
    rpmtools.need("cpio")
    with tempfile.TemporaryDirectory(prefix="emtk3s-pin-images-") as tmp:
        cpio = subprocess.run(["rpm2cpio", str(rpm_file)], capture_output=True, check=False)
        unpack = subprocess.run(
            ["cpio", "-idm", "--quiet", "--no-absolute-filenames", f"./{IMAGES_DIR}/*"],
            input=cpio.stdout,
            cwd=tmp,
            capture_output=True,
            check=False,
        )
        if cpio.returncode != 0 or unpack.returncode != 0:
            raise InputError(f"{rpm_file}: cannot unpack it ({unpack.stderr.decode()[:200]})", "rebuild it")  # fmt: skip
        found: dict[str, str] = {}
        for archive in sorted((Path(tmp) / IMAGES_DIR).glob("*.tar")):
            if not archive.name.endswith(f"-{goarch}.tar"):
                raise InputError(f"{rpm_file}: {archive.name} is not an {goarch} archive", "")
            ref, digest = archive_digest(archive)
            found[ref] = digest
    if not found:
        raise InputError(f"{rpm_file}: no image archives under /{IMAGES_DIR}", "name the package that builds the images")  # fmt: skip
    return goarch, found


def built_rpms(project: Project, package: str, version: str) -> list[Path]:
    """The package's built RPMs in RPMS/<arch>/ at the lock's version (newest release last)."""
    out = []
    for arch in sorted(GOARCH):
        out += sorted((project.rpms / arch).glob(f"{package}-{version}-*.{arch}.rpm"))
    return out


def pin_images(
    project: Project, release: Release, package: str | None, rpms: list[Path], repin: bool = False
) -> dict[str, Any]:
    mirrors = release.catalog.mirrors
    lock = lockmod.require(project.lock_file, mirrors)
    if package is None:  # the release's one package that writes image archives
        writers = [n for n, p in sorted(release.catalog.packages.items()) if p.writes_images]
        package = next((n for n in writers if n in lock.packages), None)
        if package is None:
            raise InputError(
                "no package of the lock writes image archives",
                f"add {' or '.join(writers) or 'one'} to release.toml packages, or name one with -p",
            )
    plock = lock.packages.get(package)
    if plock is None:
        raise InputError(f"-p {package}: not a package of the lock", f"choose from {', '.join(lock.packages)}")  # fmt: skip
    rpms = rpms or built_rpms(project, package, plock.version)
    if not rpms:
        raise InputError(
            f"{package}: no built RPM of {plock.version} in {project.rpms}",
            f"build it first (emtk3s all -p {package}) or name it with --rpm",
        )
    digests: dict[str, dict[str, str]] = {}
    for rpm_file in rpms:
        name, version, _ = _header(rpm_file)
        if (name, version) != (package, plock.version):
            raise InputError(f"{rpm_file}: {name} {version}, the lock has {package} {plock.version}", "name the RPM built from this lock")  # fmt: skip
        goarch, found = rpm_digests(rpm_file)
        for ref, digest in found.items():
            digests.setdefault(ref, {})[goarch] = digest
    changed_pins = []
    for ref, by_arch in sorted(digests.items()):
        for goarch, digest in sorted(by_arch.items()):
            was = plock.image_digests.get(ref, {}).get(goarch)
            if was is not None and was != digest and not repin:
                raise IntegrityError(
                    f"{package}: {ref} ({goarch}): the built archive's manifest is {digest}, "
                    f"the lock pins {was}",
                    "find why the build changed (payload, writer, CA bundle); --repin accepts the new digest",  # fmt: skip
                )
            if was != digest:
                changed_pins.append({"image": ref, "arch": goarch, "old": was, "new": digest})
    _, changed = lockmod.save_image_digests(project.lock_file, package, digests, mirrors)
    return {
        "package": package,
        "rpms": [str(r) for r in rpms],
        "digests": digests,
        "pinned": changed_pins,
        "lock_changed": changed,
    }
