"""release.toml: what to build (the human input of the pipeline)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emtk3s import formats
from emtk3s.infra import checks
from emtk3s.infra.errors import InputError
from emtk3s.model.package import Catalog
from emtk3s.model.versions import K3sTag

ARCHES = ("x86_64", "aarch64")
#: an SPDX license expression as release.toml's [licenses] may give it (ids, AND/OR/WITH, parens)
_SPDX_EXPRESSION = re.compile(r"^[A-Za-z0-9.+()-]+(?:\s+[A-Za-z0-9.+()-]+)*$")


@dataclass(frozen=True)
class Changelog:
    author: str = "emtk3s"
    email: str = "emtk3s@localhost"


@dataclass(frozen=True)
class Release:
    """release.toml as read. Its --json form (and render's input key) comes from the one
    encoder: the K3s tag as written, without the path, the package selection and the catalog."""

    k3s: K3sTag = field(metadata={"json": lambda t: t.tag})
    overrides: dict[str, str]  # component -> tag, winning over what the K3s tag pins
    arches: tuple[str, ...]
    airgap_images: bool
    mirrors: dict[str, str]
    allow_http: tuple[str, ...]
    changelog: Changelog
    #: the packages, components and default upstream bases this release was read against
    catalog: Catalog = field(compare=False, repr=False, metadata={"json": False})
    release: int = 1
    packages: tuple[str, ...] = field(default=(), metadata={"json": False})
    path: Path | None = field(default=None, metadata={"json": False})
    # build K3s with SELinux support (upstream's SELINUX=true; docs/packages/k3s.md)
    selinux: bool = True
    #: [licenses]: a part of an upstream (a package its build system builds) -> the SPDX expression
    #: to use for it instead of what emtk3s maps from the upstream's own text
    licenses: dict[str, str] = field(default_factory=dict)

    def digest(self) -> str:
        """sha256 of what resolve depends on (mirrors excluded: a mirror serves the same bytes)."""
        data = {
            "k3s": self.k3s.tag,
            "overrides": dict(sorted(self.overrides.items())),
            "arches": list(self.arches),
            "airgap_images": self.airgap_images,
            "packages": list(self.packages),
            **({"licenses": dict(sorted(self.licenses.items()))} if self.licenses else {}),
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def mirror(self, name: str) -> str:
        return self.mirrors[name].rstrip("/")

    def http_allowed(self, name: str) -> bool:
        return name in self.allow_http


def _env_mirrors(
    environ: dict[str, str] | os._Environ[str], known: Mapping[str, str]
) -> dict[str, str]:
    out = {}
    for name in known:
        value = environ.get(f"EMTK3S_MIRROR_{name.upper()}")
        if value:
            out[name] = value
    return out


#: the EMTK3S_ variables emtk3s reads (besides EMTK3S_MIRROR_<NAME> of each known mirror);
#: EMTK3S_TEST_* and the bench's are the test suite's and benchmarks' own hooks
KNOWN_ENV = (
    "EMTK3S_CACHE",
    "EMTK3S_VERIFY",
    "EMTK3S_MAX_DOWNLOAD",
    "EMTK3S_DOWNLOAD_DEADLINE",
    "EMTK3S_PROGRESS_EVERY",
    "EMTK3S_SPEC_CLEANER",
    "EMTK3S_UPDATE_GOLDEN",
    "EMTK3S_BENCH_DIR",
    "EMTK3S_BENCH_CODE",
    "EMTK3S_EMT_SNAPSHOT",
    "EMTK3S_REAL_MIRROR",
    "EMTK3S_SANDBOX_PIDS",
    "EMTK3S_SANDBOX_MEMORY",
    "EMTK3S_SANDBOX_FILESIZE",
    "EMTK3S_SANDBOX_TIMEOUT",
)


def unknown_env(environ: dict[str, str] | os._Environ[str], catalog: Catalog) -> list[str]:
    """One warning per EMTK3S_ variable that nothing reads (a misspelt mirror variable would
    otherwise be ignored in silence), with the nearest known name."""
    import difflib

    known = [*KNOWN_ENV, *(f"EMTK3S_MIRROR_{n.upper()}" for n in catalog.mirrors)]
    out = []
    for name in sorted(environ):
        if not name.startswith("EMTK3S_") or name in known or name.startswith("EMTK3S_TEST_"):
            continue
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        hint = f"did you mean {near[0]}?" if near else f"known: {', '.join(sorted(known))}"
        out.append(f"environment variable {name} is not used by emtk3s ({hint})")
    return out


def parse_mirror_flags(flags: tuple[str, ...] | list[str], catalog: Catalog) -> dict[str, str]:
    out = {}
    for item in flags:
        name, sep, value = item.partition("=")
        if not sep or name not in catalog.mirrors:
            raise InputError(
                f"--mirror {item!r} is not NAME=URL",
                f"NAME is one of {', '.join(sorted(catalog.mirrors))}",
            )
        out[name] = value
    return out


def load(
    path: Path,
    catalog: Catalog,
    mirror_overrides: dict[str, str] | None = None,
    environ: dict[str, str] | os._Environ[str] | None = None,
) -> Release:
    """Read release.toml; mirrors: file < environment (EMTK3S_MIRROR_<NAME>) < flags."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{path}: no such file", "run in the project directory or pass --release FILE"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML: {exc}", "fix the file's syntax") from None
    formats.check("release", raw, str(path))  # emtk3s/formats/release.schema.json
    return parse(raw, catalog, path, mirror_overrides, environ)


def parse(
    raw: dict[str, Any],
    catalog: Catalog,
    path: Path | None = None,
    mirror_overrides: dict[str, str] | None = None,
    environ: dict[str, str] | os._Environ[str] | None = None,
) -> Release:
    where = str(path or "release.toml")
    known = {"release", "mirrors", "changelog", "overrides", "licenses"}
    unknown = set(raw) - known
    if unknown:
        raise InputError(f"{where}: unknown table {sorted(unknown)[0]!r}", f"use {sorted(known)}")
    rel = raw.get("release")
    if not isinstance(rel, dict) or "k3s" not in rel:
        raise InputError(f"{where}: [release] k3s is missing", 'add k3s = "v1.32.4+k3s1"')
    # components may be pinned by a [release] key of their own (their description's release_key)
    pins = {c.release_key: c.name for c in catalog.components.values() if c.release_key}
    allowed_keys = {"k3s", "arches", "airgap_images", "selinux", "release", "packages", *pins}
    bad = set(rel) - allowed_keys
    if bad:
        raise InputError(
            f"{where}: unknown key release.{sorted(bad)[0]}", f"use {sorted(allowed_keys)}"
        )
    k3s = K3sTag.parse(rel["k3s"])
    overrides: dict[str, str] = {}
    raw_over = raw.get("overrides", {})
    if not isinstance(raw_over, dict):
        raise InputError(f"{where}: [overrides] must be a table of component = tag", "")
    for comp, tag in raw_over.items():
        checks.package_name(comp)
        overrides[comp] = checks.tag(tag, f"overrides.{comp}")
    for key, comp in pins.items():
        if rel.get(key) is not None:
            overrides[comp] = checks.tag(rel[key], f"release.{key}")
    raw_lic = raw.get("licenses", {})
    if not isinstance(raw_lic, dict):
        raise InputError(f"{where}: [licenses] must be a table of package = SPDX expression", "")
    licenses: dict[str, str] = {}
    for pkg, expr in raw_lic.items():
        checks.package_name(pkg)
        if not isinstance(expr, str) or not _SPDX_EXPRESSION.match(expr):
            raise InputError(
                f"{where}: [licenses] {pkg}: {str(expr)[:60]!r} is not an SPDX license expression",
                'e.g. util-linux = "GPL-2.0-or-later AND BSD-4-Clause AND ISC AND MIT"',
            )
        licenses[pkg] = expr
    arches = tuple(rel.get("arches", ["x86_64"]))
    for arch in arches:
        if arch not in ARCHES:
            raise InputError(f"{where}: arch {arch!r} is not supported", f"use {list(ARCHES)}")
    airgap = rel.get("airgap_images", False)
    if not isinstance(airgap, bool):
        raise InputError(f"{where}: release.airgap_images must be true or false", "")
    selinux = rel.get("selinux", True)
    if not isinstance(selinux, bool):
        raise InputError(f"{where}: release.selinux must be true or false", "e.g. selinux = true")
    release_no = rel.get("release", 1)
    if (
        not isinstance(release_no, int)
        or isinstance(release_no, bool)
        or not 1 <= release_no < 10000
    ):
        raise InputError(
            f"{where}: release.release must be a whole number >= 1", "e.g. release = 1"
        )
    packages = tuple(checks.package_name(p) for p in rel.get("packages", []))

    mirrors = dict(catalog.mirrors)
    file_mirrors = raw.get("mirrors", {})
    allow_http = tuple(file_mirrors.get("allow_http", []))
    for name, value in file_mirrors.items():
        if name == "allow_http":
            continue
        if name not in catalog.mirrors:
            raise InputError(f"{where}: unknown mirror {name!r}", f"use {sorted(catalog.mirrors)}")
        mirrors[name] = value
    mirrors.update(_env_mirrors(os.environ if environ is None else environ, catalog.mirrors))
    mirrors.update(mirror_overrides or {})
    for name, value in mirrors.items():
        checks.url(value, f"mirror {name}", allow_http=name in allow_http)

    cl = raw.get("changelog", {})
    changelog = Changelog(
        author=checks.free_text(cl.get("author", Changelog.author), "changelog.author"),
        email=checks.free_text(cl.get("email", Changelog.email), "changelog.email"),
    )
    if "<" in changelog.email or ">" in changelog.email or " " in changelog.email:
        raise InputError(f"{where}: changelog.email {changelog.email!r} is not an address", "")
    return Release(
        k3s=k3s,
        overrides=overrides,
        arches=arches,
        airgap_images=airgap,
        mirrors=mirrors,
        allow_http=allow_http,
        changelog=changelog,
        release=release_no,
        packages=packages,
        path=path,
        selinux=selinux,
        licenses=licenses,
        catalog=catalog,
    )
