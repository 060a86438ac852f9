"""Pieces of the K3s era support that need no upstream: the go stand-in held against the real
go, and buildroot license lists read tolerantly (k3s-root v0.15.0's util-linux.mk)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures import k3s_tree

REAL_GO = shutil.which("go", path="/usr/bin:/usr/local/go/bin:/usr/lib/go/bin")
TEMPLATE = "{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}"


def _module(root: Path) -> Path:
    """A tiny module: a required module replaced by a directory, a replace-only module, and an
    unused versioned replacement (what K3s' go.mod has from 1.35: runc only in a replace)."""
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        (root / name / "go.mod").write_text(f"module example.com/{name}\n\ngo 1.19\n")
        (root / name / f"{name}.go").write_text(f"package {name}\n\nconst X = 1\n")
    m = root / "m"
    m.mkdir()
    (m / "go.mod").write_text(
        "module example.com/m\n\ngo 1.19\n\nreplace (\n\texample.com/a => ../a\n"
        "\texample.com/r => example.com/b v1.4.0\n\texample.com/c v1.0.0 => ../b\n)\n\n"
        "require example.com/a v1.0.0\n"
    )
    (m / "main.go").write_text('package main\n\nimport _ "example.com/a"\n\nfunc main() {}\n')
    return m


def _go(go: str, m: Path, tmp: Path, *args: str, flags: str = "") -> tuple[int, str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp),
        "GOCACHE": str(tmp / "gocache"),
        "GOMODCACHE": str(tmp / "modcache"),
        "GOPROXY": "off",
        "GOSUMDB": "off",
        "GOFLAGS": flags,
    }
    p = subprocess.run([go, *args], cwd=m, env=env, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.skipif(REAL_GO is None, reason="no real go on this machine")
def test_the_go_standin_answers_as_the_real_go_in_vendor_mode(tmp_path: Path) -> None:
    assert REAL_GO is not None
    standin = str(k3s_tree.GO_STANDIN / "go")
    real_m, fake_m = _module(tmp_path / "real"), _module(tmp_path / "fake")
    assert _go(REAL_GO, real_m, tmp_path, "mod", "vendor")[0] == 0
    assert _go(standin, fake_m, tmp_path, "mod", "vendor")[0] == 0
    real_txt = (real_m / "vendor/modules.txt").read_text()
    fake_txt = (fake_m / "vendor/modules.txt").read_text()
    # the same records (the real go adds the dependency's go version to "## explicit")
    assert fake_txt.splitlines() == [line.split(";")[0] for line in real_txt.splitlines()], (
        real_txt,
        fake_txt,
    )
    assert "# example.com/r => example.com/b v1.4.0" in real_txt
    for flags in ("-mod=vendor", "-mod=readonly"):
        for path in ("example.com/a", "example.com/r", "example.com/c", "example.com/zz"):
            r = _go(REAL_GO, real_m, tmp_path, "list", "-m", "-f", TEMPLATE, path, flags=flags)
            f = _go(standin, fake_m, tmp_path, "list", "-m", "-f", TEMPLATE, path, flags=flags)
            assert (f[0] == 0) == (r[0] == 0) and f[1] == r[1], (flags, path, r, f)
            if r[0]:
                assert f[2].strip() == r[2].strip(), (flags, path, r[2], f[2])


UTIL_LINUX_2025_02_5 = (
    # buildroot 2025.02.5 package/util-linux/util-linux.mk UTIL_LINUX_LICENSE as show-info
    # prints it (the comma after "ISC (rfkill)" is missing upstream)
    "GPL-2.0+, BSD-4-Clause, LGPL-2.1+ (libblkid, libfdisk, libmount), BSD-3-Clause (libuuid), "
    "BSD-2-Clause (xxhash), ISC (rfkill) MIT (hardlink, flock)"
)


def test_a_missing_comma_in_a_buildroot_license_list_is_read() -> None:
    from emtk3s.packages.k3s_root.licenses import package_terms

    terms = package_terms(UTIL_LINUX_2025_02_5, "util-linux")
    assert terms == [
        "GPL-2.0-or-later",
        "BSD-4-Clause",
        "LGPL-2.1-or-later",
        "BSD-3-Clause",
        "BSD-2-Clause",
        "ISC",
        "MIT",
    ]


def test_an_unknown_license_string_never_stops_a_release() -> None:
    from emtk3s.packages.k3s_root.licenses import license_terms, mapping

    licenses = {
        "newpkg": {"type": "target", "licenses": [{"_part": "Frobnicate License 2"}]},
        "util-linux": {
            "type": "target",
            "licenses": [{"_part": p.strip()} for p in UTIL_LINUX_2025_02_5.split(",")],
        },
    }
    terms = license_terms(licenses, {"newpkg", "util-linux"}, "Apache-2.0")
    assert "LicenseRef-buildroot-Frobnicate-License-2" in terms and "MIT" in terms
    rows = {r["package"]: r for r in mapping(licenses, {"newpkg", "util-linux"}, {})}
    assert rows["newpkg"]["unmapped"] == ["Frobnicate License 2"]
    assert rows["util-linux"]["unmapped"] == []
    # release.toml's [licenses] wins for that package
    rows = {r["package"]: r for r in mapping(licenses, {"newpkg", "util-linux"}, {"newpkg": "MIT"})}
    assert rows["newpkg"]["terms"] == ["MIT"] and rows["newpkg"]["overridden"]
    terms = license_terms(licenses, {"newpkg"}, "Apache-2.0", {"newpkg": "MIT"})
    assert terms == ["Apache-2.0", "MIT"]


def test_era_shell_files_are_executable_where_upstream_runs_them() -> None:
    for era in k3s_tree.ERAS:
        files = k3s_tree.era_files(era)
        assert "scripts/version.sh" in files and "go.mod" in files, era
        assert "scripts/airgap/image-list.txt" in files, era
        for rel in k3s_tree.modes(files):
            path = k3s_tree.DATA / era / rel
            if not path.exists():
                path = k3s_tree.DATA / "common" / rel
            assert os.access(path, os.X_OK), path
