"""k3s-root's reading of buildroot's show-info: hashes only from the downloading package's own
hash files, safe local names, SPDX terms, and unpacking a tree with absolute symlinks."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

import emtk3s.model.package  # noqa: F401  (discovery first: the package folders import it)
from emtk3s.infra.errors import InputError
from emtk3s.infra.safetar import safe_extract
from emtk3s.packages.k3s_root import licenses, showinfo


def _info(pkg: str, dl_dir: str, source: str, site: str) -> dict[str, object]:
    return {
        "type": "target",
        "version": "1.0",
        "licenses": "GPL-2.0+",
        "license_files": ["COPYING"],
        "dl_dir": dl_dir,
        "downloads": [{"source": source, "uris": [site, "http|urlencode+http://x/y"]}],
    }


def test_a_hash_pins_only_the_download_of_the_package_that_records_it(tmp_path: Path) -> None:
    (tmp_path / "package/a").mkdir(parents=True)
    (tmp_path / "package/b").mkdir(parents=True)
    # both hash files name the same file with different hashes: each package gets its own
    (tmp_path / "package/a/a.hash").write_text(f"sha256  {'a' * 64}  common-1.0.tar.gz\n")
    (tmp_path / "package/b/b.hash").write_text(f"sha512  {'b' * 128}  common-1.0.tar.gz\n")
    info = {
        "a": _info("a", "a", "common-1.0.tar.gz", "https+https://a.example/dl"),
        "host-b": _info("host-b", "b", "common-1.0.tar.gz", "http+http://b.example/dl"),
    }
    hvars = {"A_HASH_FILES": "package/a//a.hash", "HOST_B_HASH_FILES": "package/b//b.hash"}
    dls, _ = showinfo.parse(info, hvars, tmp_path)
    by_dir = {d["dl_dir"]: d for d in dls}
    assert by_dir["a"]["sha256"] == "a" * 64 and by_dir["a"]["sha512"] is None
    assert by_dir["b"]["sha256"] is None and by_dir["b"]["sha512"] == "b" * 128
    assert by_dir["a"]["_url"] == "https://a.example/dl/common-1.0.tar.gz"
    assert by_dir["b"]["hash_file"] == ["package/b/b.hash"]
    # the same file name in two download dirs: local names made distinct
    assert {d["name"] for d in dls} == {"a-common-1.0.tar.gz", "b-common-1.0.tar.gz"}


def test_query_string_download_gets_a_safe_local_name(tmp_path: Path) -> None:
    info = {"m": _info("m", "m", "queue.h?rev=1.70", "http://cvsweb.example/src/sys")}
    dls, _ = showinfo.parse(info, {}, tmp_path)
    assert dls[0]["name"] == "m-queue.h-rev-1.70" and dls[0]["_file"] == "queue.h?rev=1.70"
    bad = {"m": _info("m", "m", "x';rm -rf /", "http://e/x")}
    with pytest.raises(Exception, match="no usable URL"):
        showinfo.parse(bad, {}, tmp_path)


def test_spdx_terms() -> None:
    assert licenses.package_terms(
        "GPL-2.0+, BSD-4-Clause, LGPL-2.1+ (libblkid, libmount), ISC (rfkill)", "util-linux"
    ) == ["GPL-2.0-or-later", "BSD-4-Clause", "LGPL-2.1-or-later", "ISC"]
    assert licenses.package_terms("GPL-2.0 or BSD-3-Clause", "libcap") == [
        "(GPL-2.0-only OR BSD-3-Clause)"
    ]
    # a name emtk3s does not know never stops a release: a LicenseRef validate lists
    assert licenses.package_terms("Frobnicate-1.0", "x") == ["LicenseRef-buildroot-Frobnicate-1.0"]


def test_absolute_symlinks_of_a_tree_we_only_read_are_skipped(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        link = tarfile.TarInfo("br/board/x/rootfs_overlay/init")
        link.type, link.linkname = tarfile.SYMTYPE, "/sbin/init"
        tf.addfile(link)
        data = b"kept\n"
        f = tarfile.TarInfo("br/Makefile")
        f.size = len(data)
        tf.addfile(f, io.BytesIO(data))
    arc = tmp_path / "br.tar"
    arc.write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="points outside"):
        safe_extract(arc, tmp_path / "strict")
    names = safe_extract(arc, tmp_path / "read", skip_outside_links=True)
    assert names == ["br/Makefile"]
    assert not (tmp_path / "read/br/board/x/rootfs_overlay/init").is_symlink()
