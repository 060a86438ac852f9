"""Limits the host keeps whatever it is handed: unpack trees a killed run left, dates an RPM
cannot hold, a full disk while proving patches apply, names a file system cannot hold.
Real tar, real rpmbuild, a real tmpfs, real SIGKILL."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import textwrap
import time
from pathlib import Path

import pytest

from emtk3s.builders import chroot
from emtk3s.infra.cache import Cache
from emtk3s.infra.errors import BuildError, EnvironmentProblem, InputError
from emtk3s.infra.safetar import safe_extract
from emtk3s.model import changelog

# --- stale .unpack-* trees of the worker chroot --------------------------------------------

_KILLED_UNPACK = """
import os, sys
from pathlib import Path
from emtk3s.builders.chroot import _unpack_dir
with _unpack_dir(Path(sys.argv[1])) as tmp:
    (tmp / "usr").mkdir()
    (tmp / "usr" / "big").write_bytes(b"x" * 65536)
    os.kill(os.getpid(), 9)  # killed mid-unpack: the tree and its owner file stay
"""

_LIVE_UNPACK = """
import sys
from pathlib import Path
from emtk3s.builders.chroot import _unpack_dir
with _unpack_dir(Path(sys.argv[1])) as tmp:
    (tmp / "usr").mkdir()
    print(tmp.name, flush=True)
    sys.stdin.read()  # held until the test closes stdin
"""


def _chroot_tarball(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name in ("root", "root/usr", "root/usr/bin"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(info)
        data = b"#!/bin/sh\n"
        info = tarfile.TarInfo("root/usr/bin/true")
        info.size, info.mode = len(data), 0o755
        tf.addfile(info, io.BytesIO(data))
    return path


def test_a_killed_unpack_is_swept_a_live_one_is_kept(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    cache.root.mkdir(parents=True)
    killed = subprocess.run([sys.executable, "-c", _KILLED_UNPACK, str(cache.root)])
    assert killed.returncode == -9
    (stale,) = [p for p in cache.root.iterdir() if p.is_dir() and p.name.startswith(".unpack-")]
    live = subprocess.Popen(
        [sys.executable, "-c", _LIVE_UNPACK, str(cache.root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert live.stdout is not None
        live_name = live.stdout.readline().strip()
        # an older emtk3s's tree (no owner file): removed once old, kept while recent
        old = cache.root / ".unpack-olderrun"
        (old / "usr").mkdir(parents=True)
        past = time.time() - 2 * chroot.LEGACY_UNPACK_AGE
        os.utime(old, (past, past))
        recent = cache.root / ".unpack-recentrun"
        (recent / "usr").mkdir(parents=True)
        # a symlink with the prefix is not followed; other names are not ours
        outside = tmp_path / "outside"
        (outside / "keep").mkdir(parents=True)
        (cache.root / ".unpack-link").symlink_to(outside)
        (cache.root / "blobs").mkdir()

        root, key = chroot.prepare(_chroot_tarball(tmp_path / "worker.tar.gz"), cache)
        assert (root / "usr/bin/true").is_file() and key.startswith("tar:")
        names = {p.name for p in cache.root.iterdir()}
        assert stale.name not in names and old.name not in names
        assert live_name in names and recent.name in names
        assert (outside / "keep").is_dir() and (cache.root / ".unpack-link").is_symlink()
        assert "blobs" in names
        # the unpack this run made left nothing behind
        ours = {n for n in names if n.startswith(".unpack-")}
        assert ours == {live_name, live_name + ".owner", recent.name, ".unpack-link"}
    finally:
        live.communicate("", timeout=60)
    assert chroot.sweep_unpacks(cache.root) == []  # the live one ended and cleaned up
    assert not (cache.root / live_name).exists()


# --- SOURCE_DATE_EPOCH and dates beyond what an RPM can hold -------------------------------


@pytest.mark.parametrize("value", ["99999999999", str(1 << 32), "1" * 30])
def test_source_date_epoch_beyond_an_rpm_header_is_refused(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    with pytest.raises(InputError, match="SOURCE_DATE_EPOCH"):
        changelog.user_epoch()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str((1 << 32) - 1))
    assert changelog.user_epoch() == (1 << 32) - 1
    with pytest.raises(InputError, match="--date"):
        changelog.user_epoch("5138-11-16")


def test_render_with_a_far_future_source_date_epoch_writes_nothing(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    root = tmp_path / "proj"
    root.mkdir()
    for name in ("release.toml", "emtk3s.lock", "changelog.json"):
        (root / name).write_bytes((repo / name).read_bytes())
    env = {**os.environ, "SOURCE_DATE_EPOCH": "99999999999"}
    res = subprocess.run(
        [sys.executable, "-m", "emtk3s", "-C", str(root), "render", "-p", "slirp4netns"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert res.returncode == 2, res.stderr
    assert "SOURCE_DATE_EPOCH 99999999999" in res.stderr and "Traceback" not in res.stderr
    assert not (root / "SPECS").exists()
    assert (root / "changelog.json").read_bytes() == (repo / "changelog.json").read_bytes()


def test_a_lock_commit_time_beyond_an_rpm_header_is_refused(tmp_path: Path) -> None:
    import json

    from emtk3s import catalog
    from emtk3s.model.lock import Lock

    repo = Path(__file__).resolve().parents[2]
    doc = json.loads((repo / "emtk3s.lock").read_text())
    comp = next(iter(doc["components"].values()))
    comp["commit_time"] = 99999999999
    with pytest.raises(InputError, match="commit_time"):
        Lock.from_json(json.dumps(doc), catalog.load().mirrors)


# --- a full disk while proving the patches apply (rpmbuild -bp) ----------------------------

SPEC = """Name:           fill
Version:        1.0
Release:        1
Summary:        unpacks more than the disk holds (test fixture)
License:        MIT
Source0:        fill-1.0.tar.gz
Patch0:         0001-readme.patch
BuildArch:      noarch

%description
Fixture.

%prep
%autosetup -p1

%files

%changelog
* Fri Nov 08 2024 T <t@example.invalid> - 1.0-1
- Fixture.
"""


def _prep_top(top: Path) -> None:
    for d in ("SOURCES", "SPECS", "BUILD", "SRPMS", "RPMS"):
        (top / d).mkdir(parents=True)
    with tarfile.open(top / "SOURCES" / "fill-1.0.tar.gz", "w:gz") as tf:
        for name, data in (("fill-1.0/README", b"fixture\n"), ("fill-1.0/zeros", bytes(8 << 20))):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tf.addfile(info, io.BytesIO(data))
    (top / "SOURCES" / "0001-readme.patch").write_text(
        textwrap.dedent(
            """\
            --- a/README
            +++ b/README
            @@ -1 +1,2 @@
             fixture
            +patched
            """
        )
    )
    (top / "SPECS" / "fill.spec").write_text(SPEC)


def test_disk_full_during_prep_is_an_environment_problem(tmp_path: Path) -> None:
    from emtk3s.stages.srpm import prove_patches_apply

    # the patch applies where there is room
    roomy = tmp_path / "roomy"
    _prep_top(roomy)
    prove_patches_apply(roomy, "fill.spec", tmp_path / "prep-roomy.log", 1700000000)

    small = tmp_path / "small"
    small.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], capture_output=True
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.decode().strip()}")
    try:
        _prep_top(small / "top")
        with pytest.raises(EnvironmentProblem, match="no space left on device") as err:
            prove_patches_apply(small / "top", "fill.spec", tmp_path / "prep.log", 1700000000)
        assert err.value.exit_code == 6
        # a patch that does not apply is still that (exit 5), on the same small disk
        (small / "top" / "SOURCES" / "0001-readme.patch").write_text(
            "--- a/README\n+++ b/README\n@@ -1 +1,2 @@\n other\n+patched\n"
        )
        for f in (small / "top" / "SOURCES").glob("*.tar.gz"):
            with tarfile.open(f, "w:gz") as tf:
                info = tarfile.TarInfo("fill-1.0/README")
                info.size = 8
                tf.addfile(info, io.BytesIO(b"fixture\n"))
        with pytest.raises(BuildError, match="a patch does not apply") as bad:
            prove_patches_apply(small / "top", "fill.spec", tmp_path / "prep2.log", 1700000000)
        assert bad.value.exit_code == 5
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


# --- tar member names a file system cannot hold ---------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["pkg/" + "a" * 256, "pkg/" + "/".join(["d" * 200] * 25), "pkg/" + "é" * 128],
)
def test_a_member_name_too_long_is_a_clean_refusal(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "long.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("pkg/ok")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"ok"))
        info = tarfile.TarInfo(name)
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    dest = tmp_path / "out"
    with pytest.raises(InputError, match="too long for a file system"):
        safe_extract(archive, dest)
    assert not dest.exists() or not any(dest.iterdir())


def test_a_link_target_too_long_is_a_clean_refusal(tmp_path: Path) -> None:
    archive = tmp_path / "long-link.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("pkg/link")
        info.type, info.linkname = tarfile.SYMTYPE, "b" * 300
        tf.addfile(info)
    with pytest.raises(InputError, match="too long for a file system"):
        safe_extract(archive, tmp_path / "out")
