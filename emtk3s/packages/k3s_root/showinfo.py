"""Buildroot's own download list, known offline: the two trees (buildroot at the tag k3s-root pins,
k3s-root's package/ overlay and patches applied as its scripts/patch does, .config = arch config +
common config, ccache off) are unpacked from git, and buildroot's ``make olddefconfig``,
``make show-info`` and ``make printvars VARS=%_HASH_FILES`` run contained (no network: the generator
sandbox, :func:`contained`). Each download is pinned by the hash file buildroot itself checks for that
package (never another package's), with its licenses from the same output.

Host tools: buildroot adds host-tar, host-cmake, host-xz, ... when the build host's are missing or
too old (support/dependencies/check-host-*.mk). The list is computed for the EMT toolchain's tool
set (:data:`EMT_HOST_TOOLS`), forced on make's command line so that the result does not depend on
the machine that resolves; the spec BuildRequires those tools and ``%build`` checks that buildroot
agrees on the build machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emtk3s.infra import checks
from emtk3s.infra.errors import InputError, UpstreamError

if TYPE_CHECKING:
    from emtk3s.infra.git import TagCheckout

#: bump when the facts computed here change shape (cached results are keyed by it)
FORMAT = 3
ARCH_CONFIG = {"x86_64": "amd64config", "aarch64": "arm64config"}

#: support/dependencies/check-host-<tool>.mk variable -> what EMT's toolchain provides.
#: None: EMT has no such tool (buildroot builds its own when a package needs it).
#: Versions from EMT 3.0's SPECS (tar 1.35, cmake 3.30.3, xz 5.4.4, gzip 1.13, make 4.4.1,
#: python3 3.12, bison 3.8.2, flex 2.6.4, coreutils 9.4, zstd 1.5.5); buildroot 2025.02
#: wants tar >= 1.35 (check-host-tar.sh), 2024.02 >= 1.27; lzip is not in EMT's toolchain.
#: Each value: [EMT package] or [EMT package, minimum version buildroot checks] (the spec's BuildRequires).
EMT_HOST_TOOLS: dict[str, list[str] | None] = {
    "BR2_TAR_HOST_DEPENDENCY": ["tar", "1.35"],
    "BR2_CMAKE_HOST_DEPENDENCY": ["cmake"],
    "BR2_XZCAT_HOST_DEPENDENCY": ["xz"],
    "BR2_GZIP_HOST_DEPENDENCY": ["gzip"],
    "BR2_MAKE_HOST_DEPENDENCY": ["make", "4.0"],
    "BR2_PYTHON3_HOST_DEPENDENCY": ["python3"],
    "BR2_BISON_HOST_DEPENDENCY": ["bison"],
    "BR2_FLEX_HOST_DEPENDENCY": ["flex"],
    "BR2_COREUTILS_HOST_DEPENDENCY": ["coreutils"],
    "BR2_ZSTD_HOST_DEPENDENCY": ["zstd"],  # checked from buildroot 2025.02 (EMT: 1.5.5)
    "BR2_LZIP_HOST_DEPENDENCY": None,
}
_HOST_DEP_VAR = re.compile(r"^\s*(BR2_[A-Z0-9_]+_HOST_DEPENDENCY)\s*[:?]?=\s*(\S+)", re.M)
_HASH_LINE = re.compile(
    r"^(?P<algo>sha1|sha224|sha256|sha384|sha512|md5)\s+(?P<hex>[0-9a-f]+)\s+(?P<file>\S+)\s*\Z"
)
_METHOD = re.compile(r"^[a-z0-9]+(\|urlencode)?\+")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._+-]")
_PATH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_/~=,-]{0,299}\Z")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_~=,-]{0,99}\Z")
#: a download's own name: a file name, maybe with a query string (cvsweb's queue.h?rev=1.70)
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9._+~=?-]+\Z")


def contained(
    cmd: list[str], cwd: Path, env: dict[str, str], writable: list[Path] | None = None
) -> str:
    """Run upstream code (buildroot's Makefile) in the generator sandbox: host system
    read-only, only the work tree writable, no capabilities, no network. Returns stdout; a
    failure is an UpstreamError with the tail of its output."""
    from emtk3s.infra import sandbox

    proc = sandbox.run_generator(cmd, cwd=cwd, env=env, writable=writable or [cwd])
    if proc.returncode != 0:
        tail = " ".join((proc.stderr or proc.stdout).split())[-400:]
        raise UpstreamError(
            f"buildroot `{' '.join(cmd)}` failed: {tail}",
            "the k3s-root/buildroot pair does not configure; check the tags",
        )
    return proc.stdout


def _unpack(co: TagCheckout, dest: Path) -> Path:
    from emtk3s.infra.safetar import safe_extract  # tarfile: only when a tree is unpacked

    tar = dest.with_suffix(".tar")
    with tar.open("wb") as out:
        proc = subprocess.run(
            ["git", "archive", "--format=tar", co.info.commit],
            cwd=co.repo.git_dir,
            stdout=out,
            stderr=subprocess.PIPE,
            check=False,
        )
    if proc.returncode != 0:
        raise UpstreamError(
            f"git archive of {co.info.tag} failed: {proc.stderr.decode()[:200]}", ""
        )
    safe_extract(tar, dest, skip_outside_links=True)
    tar.unlink()
    return dest


def prepare(br: Path, kr: Path) -> None:
    """What k3s-root's scripts/patch does: rsync its package/ over buildroot's, then apply each
    patches/*.patch with `patch -t -p1` in buildroot."""
    if (kr / "package").is_dir():
        shutil.copytree(kr / "package", br / "package", dirs_exist_ok=True, symlinks=True)
    from emtk3s.infra import sandbox

    for patch in sorted((kr / "patches").glob("*.patch")):
        # upstream's patch (an ed-style hunk makes patch run ed): applied in the sandbox
        proc = sandbox.run_generator(
            ["patch", "-s", "-t", "-p1", "-i", str(patch.resolve())],
            cwd=br.resolve(),
            env={"HOME": "/tmp"},
            writable=[br.resolve()],
            readable=[(kr / "patches").resolve()],
        )
        if proc.returncode != 0:
            raise UpstreamError(
                f"k3s-root patches/{patch.name} does not apply to this buildroot: "
                + " ".join(proc.stdout.split())[-200:],
                "pin a buildroot tag that k3s-root's patches fit ([overrides] buildroot)",
            )


def host_overrides(br: Path) -> tuple[list[str], dict[str, list[str]]]:
    """make command-line assignments that fix every host-tool check to EMT's tool set, and the
    BuildRequires that assumption needs (tool -> requirement)."""
    found: dict[str, str] = {}
    for mk in sorted((br / "support" / "dependencies").glob("check-host-*.mk")):
        for m in _HOST_DEP_VAR.finditer(mk.read_text(errors="replace")):
            found[m.group(1)] = m.group(2)
    unknown = sorted(set(found) - set(EMT_HOST_TOOLS))
    if unknown:
        raise InputError(
            f"buildroot checks a host tool emtk3s has no EMT assumption for: {unknown[0]}",
            "add it to EMT_HOST_TOOLS in emtk3s/packages/k3s_root/showinfo.py",
        )
    args: list[str] = []
    requires: dict[str, list[str]] = {}
    for var in sorted(found):
        req = EMT_HOST_TOOLS[var]
        if req is None:  # not in EMT: buildroot builds its own wherever a package needs it
            args.append(f"{var}={found[var]}")
            continue
        args.append(f"{var}=")
        requires[var] = req
    return args, requires


def _hash_entries(br: Path, hash_files: list[str]) -> dict[str, dict[str, str]]:
    """file -> {algo: hex} from the hash files buildroot checks for one package."""
    out: dict[str, dict[str, str]] = {}
    root = br.resolve()
    for rel in hash_files:
        path = (br / rel).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            m = _HASH_LINE.fullmatch(line)
            if m:
                out.setdefault(m.group("file"), {})[m.group("algo")] = m.group("hex")
    return out


def _printvars(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        var, sep, value = line.partition("=")
        if sep:
            out[var.strip()] = value.strip()
    return out


def parse(
    info: dict[str, Any], hash_vars: dict[str, str], br: Path
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """show-info JSON -> (downloads, licenses). A download's hash comes only from the hash
    files of the package that downloads it."""
    downloads: dict[tuple[str, str], dict[str, Any]] = {}
    licenses: dict[str, dict[str, Any]] = {}
    for pkg, data in sorted(info.items()):
        if not isinstance(data, dict) or data.get("virtual"):
            continue
        dls = data.get("downloads") or []
        version = str(data.get("version", ""))
        licenses[pkg] = {
            "type": str(data.get("type", "")),
            "version": version if _TOKEN.fullmatch(version) else None,
            # buildroot's text, one note per comma-separated part (prose: spaces, parentheses)
            "licenses": [
                {"_part": part.strip()}
                for part in str(data.get("licenses", "")).split(",")
                if part.strip()
            ],
            "license_files": sorted(
                f for f in map(str, data.get("license_files") or []) if _PATH.fullmatch(f)
            ),
        }
        if not dls:
            continue
        var = pkg.upper().replace("-", "_") + "_HASH_FILES"
        hashes = _hash_entries(br, hash_vars.get(var, "").split())
        dl_dir = checks.file_name(str(data.get("dl_dir", pkg)), f"show-info {pkg} dl_dir")
        for dl in dls:
            source = str(dl["source"])
            uris = [str(u) for u in dl.get("uris", [])]
            if not uris or not _SOURCE_NAME.fullmatch(source) or source.startswith("."):
                raise UpstreamError(f"show-info: {pkg} download {source!r} has no usable URL", "")
            primary = _METHOD.sub("", uris[0]).rstrip("/") + "/" + source
            key = (dl_dir, source)
            h = hashes.get(source, {})
            entry = downloads.setdefault(
                key,
                {
                    "dl_dir": dl_dir,
                    # prose keys (a URL, a query-string name are no fact tokens); the spec
                    # takes the name from the Source's URL, which render checks as a token
                    "_file": source,
                    "_url": primary,
                    "packages": [],
                    "sha256": h.get("sha256"),
                    "sha512": h.get("sha512"),
                    "hash_file": sorted(
                        posixpath.normpath(f) for f in hash_vars.get(var, "").split()
                    ),
                },
            )
            entry["packages"] = sorted({*entry["packages"], pkg})
            if entry["sha256"] is None and h.get("sha256"):
                entry["sha256"] = h["sha256"]
            if entry["sha512"] is None and h.get("sha512"):
                entry["sha512"] = h["sha512"]
    out = [downloads[k] for k in sorted(downloads)]
    _local_names(out)
    return out, licenses


def _local_names(downloads: list[dict[str, Any]]) -> None:
    """The name each download has beside the spec: its own file name when that is a plain one
    and unique, else a safe form (``queue.h?rev=1.70`` -> ``queue.h-rev-1.70``) or one prefixed
    by its download directory."""
    counts: dict[str, int] = {}
    for d in downloads:
        counts[d["_file"]] = counts.get(d["_file"], 0) + 1
    for d in downloads:
        name = _SAFE_NAME.sub("-", d["_file"])
        if counts[d["_file"]] > 1 or name != d["_file"]:
            name = name if name.startswith(d["dl_dir"]) else f"{d['dl_dir']}-{name}"
        d["name"] = checks.file_name(name, f"local name of {d['dl_dir']}/{d['_file']}")


def _cache_key(br: TagCheckout, kr: TagCheckout, arches: list[str]) -> str:
    blob = json.dumps(
        [FORMAT, br.info.commit, kr.info.commit, arches, sorted(EMT_HOST_TOOLS.items(), key=str)]
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def show_info_facts(br_co: TagCheckout, kr_co: TagCheckout, arches: list[str]) -> dict[str, Any]:
    """The download list, licenses and host-tool assumption for the pair, per arch and merged;
    cached beside the buildroot clone (keyed by both commits)."""
    cache_dir = Path(br_co.repo.git_dir) / "emtk3s-show-info"
    cached = cache_dir / f"{_cache_key(br_co, kr_co, arches)}.json"
    if cached.is_file():
        try:
            data: dict[str, Any] = json.loads(cached.read_text())
            return data
        except ValueError:
            cached.unlink()
    with tempfile.TemporaryDirectory(prefix="emtk3s-show-info-") as tmp:
        facts = _compute(_unpack(br_co, Path(tmp) / "br"), _unpack(kr_co, Path(tmp) / "kr"), arches)
    cache_dir.mkdir(exist_ok=True)
    part = cached.with_suffix(".part")
    part.write_text(json.dumps(facts, sort_keys=True))
    part.replace(cached)
    return facts


def _compute(br: Path, kr: Path, arches: list[str]) -> dict[str, Any]:
    prepare(br, kr)
    overrides, requires = host_overrides(br)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(br),
        "LC_ALL": "C",
        "TERM": "dumb",
    }
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    licenses: dict[str, dict[str, Any]] = {}
    per_arch: dict[str, int] = {}
    for arch in arches:
        cfg = kr / "buildroot" / ARCH_CONFIG[arch]
        common = kr / "buildroot" / "config"
        if not cfg.is_file() or not common.is_file():
            raise InputError(
                f"k3s-root has no buildroot/{ARCH_CONFIG[arch]} or buildroot/config",
                "this k3s-root tag does not build that architecture; drop it from [release] arches",
            )
        (br / ".config").write_bytes(
            cfg.read_bytes() + common.read_bytes() + b"# BR2_CCACHE is not set\n"
        )
        contained(["make", "-s", "olddefconfig"], br, env)
        raw = contained(["make", "-s", "show-info", *overrides], br, env)
        try:
            info = json.loads(raw)
        except ValueError:
            raise UpstreamError("buildroot show-info did not print JSON", "") from None
        hvars = _printvars(
            contained(["make", "-s", "printvars", "VARS=%_HASH_FILES", *overrides], br, env)
        )
        dls, lic = parse(info, hvars, br)
        per_arch[arch] = len(dls)
        for d in dls:
            prev = merged.setdefault((d["dl_dir"], d["_file"]), d)
            prev.setdefault("arches", [])
            prev["arches"] = sorted({*prev["arches"], arch})
        licenses.update(lic)
    downloads = [merged[k] for k in sorted(merged)]
    _local_names(downloads)
    return {
        "downloads": downloads,
        "licenses": licenses,
        "host_tools": requires,
        "show_info": {"format": FORMAT, "arches": arches, "count": per_arch},
    }
