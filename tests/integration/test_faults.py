"""Faults: crashes (SIGKILL) at the moment a file would become visible, broken servers, a full
disk, concurrent runs, corrupted caches and locks. Every test reruns and checks nothing partial
was ever used."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ProjectDir, make_project
from tests.fixtures.upstream import Fault, Upstream

PKG = "k3s-iptables-helpers"
LICENSE = "/raw/k3s-io/k3s-root/v0.14.1/LICENSE"
# the package's Source names (namespaced: EMT's source server keys files by basename)
LICENSE_NAME = "k3s-iptables-helpers-0.14.1-LICENSE"
README_NAME = "k3s-iptables-helpers-0.14.1-README.md"
KILLER = Path(__file__).resolve().parents[1] / "fixtures" / "killer"


@pytest.fixture()
def proj(fresh_upstream: Upstream, tmp_path: Path) -> ProjectDir:
    p = make_project(tmp_path / "proj", fresh_upstream)
    p.write_release(packages=[PKG])
    p.run("resolve")
    return p


def _blobs(p: ProjectDir) -> dict[str, bytes]:
    root = p.cache / "blobs"
    return {f.name: f.read_bytes() for f in root.rglob("*") if f.is_file()} if root.exists() else {}


def _assert_cache_sound(p: ProjectDir) -> None:
    for name, data in _blobs(p).items():
        assert hashlib.sha256(data).hexdigest() == name, (
            f"cache entry {name} is not what its name says"
        )


def _start(
    p: ProjectDir, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    env = {**p.env(), **(extra_env or {})}
    cmd = [sys.executable, "-m", "emtk3s", "-C", str(p.root), *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run_killed_at(p: ProjectDir, match: str, nth: int, *args: str) -> int:
    env = {
        "PYTHONPATH": f"{KILLER}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "EMTK3S_TEST_KILL_AT": str(nth),
        "EMTK3S_TEST_KILL_MATCH": match,
    }
    proc = _start(p, *args, extra_env=env)
    proc.communicate(timeout=300)
    return proc.returncode


# --- crashes -------------------------------------------------------------------------------------


def test_sigkill_mid_download_then_rerun_resumes_with_range(proj: ProjectDir) -> None:
    up = proj.upstream
    up.faults[LICENSE] = [Fault("slow", after=100_000, seconds=60)]
    lic_sha = next(
        s["sha256"] for s in proj.lock["packages"][PKG]["sources"] if s["name"] == LICENSE_NAME
    )
    proc = _start(proj, "fetch", "-j", "1")
    # the LICENSE's own partial file (other sources' parts come and go while it is watched:
    # waiting on any part raced with their completion, and could kill outside the LICENSE)
    part = proj.cache / "partial" / f"{lic_sha}.part"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if part.stat().st_size >= 65536:
                break
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the download never got midway")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert lic_sha not in _blobs(proj), "a partial download became a cache entry"
    up.faults.clear()
    proj.run("fetch")
    assert lic_sha in _blobs(proj)
    assert any(
        path == LICENSE and rng.startswith("bytes=") and rng != "bytes=0-"
        for path, rng in up.ranges
    )
    _assert_cache_sound(proj)


def test_sigkill_when_a_cache_entry_is_committed(proj: ProjectDir) -> None:
    code = _run_killed_at(proj, "blobs", 1, "fetch", "-j", "1")
    assert code == -signal.SIGKILL
    _assert_cache_sound(proj)
    proj.run("fetch")
    assert len(_blobs(proj)) == 4
    _assert_cache_sound(proj)


@pytest.mark.parametrize("nth", [1, 2])
def test_sigkill_during_render_swap_never_shows_a_partial_spec_dir(
    proj: ProjectDir, nth: int
) -> None:
    proj.run("fetch")
    proj.run("render")
    spec_dir = proj.root / "SPECS" / PKG
    good = {f.name: f.read_bytes() for f in spec_dir.iterdir()}
    # a template change makes the next render replace the directory; kill it mid-swap
    proj.write_release(packages=[PKG], release=2)
    proj.run("resolve")
    code = _run_killed_at(proj, "/SPECS/", nth, "render")
    assert code == -signal.SIGKILL
    if spec_dir.exists():
        files = {f.name: f.read_bytes() for f in spec_dir.iterdir()}
        assert set(files) == set(good), "SPECS/<pkg> must be whole: the old tree or the new one"
    proj.run("render")
    assert b"Release:        2%{?dist}" in (spec_dir / f"{PKG}.spec").read_bytes()
    leftovers = [p.name for p in (proj.root / "SPECS").iterdir() if p.name.startswith(".")]
    assert leftovers == [], f"stale staging dirs left behind: {leftovers}"
    proj.run("render", "--check")


def test_sigkill_during_srpm_leaves_no_srpm_then_rerun_builds_it(proj: ProjectDir) -> None:
    proj.run("all", "--until", "validate")
    code = _run_killed_at(proj, "SRPMS", 1, "srpm")
    assert code == -signal.SIGKILL
    assert list((proj.root / "SRPMS").glob("*.src.rpm")) == []
    proj.run("srpm")
    srpms = list((proj.root / "SRPMS").glob("*.src.rpm"))
    assert len(srpms) == 1
    subprocess.run(["rpm", "-K", "--nosignature", str(srpms[0])], check=True, capture_output=True)
    assert [p.name for p in (proj.root / "SRPMS").iterdir() if p.name.startswith(".")] == []


# --- broken servers ------------------------------------------------------------------------------


def test_connection_dropped_mid_body_is_retried_and_resumed(proj: ProjectDir) -> None:
    proj.upstream.faults[LICENSE] = [Fault("drop", after=150_000)]
    res = proj.run("--json", "fetch", "-j", "1").json["result"]
    assert res["downloaded"] == 4
    assert any(path == LICENSE and rng.startswith("bytes=") for path, rng in proj.upstream.ranges)
    assert proj.upstream.requests[LICENSE] == 2
    _assert_cache_sound(proj)


def test_http_500_then_200_is_retried(proj: ProjectDir) -> None:
    proj.upstream.faults[LICENSE] = [Fault("status", status=500, times=2)]
    proj.run("fetch")
    assert proj.upstream.requests[LICENSE] == 3
    _assert_cache_sound(proj)


def test_stalled_server_times_out_and_is_retried(proj: ProjectDir) -> None:
    proj.upstream.faults[LICENSE] = [Fault("stall", seconds=3)]
    t0 = time.monotonic()
    proj.run("fetch", "--timeout", "0.5")
    assert time.monotonic() - t0 < 15
    assert proj.upstream.requests[LICENSE] == 2


def test_server_that_keeps_failing_gives_one_line_upstream_error(proj: ProjectDir) -> None:
    proj.upstream.faults[LICENSE] = [Fault("status", status=503, times=100)]
    res = proj.run("fetch", "--retries", "2", check=False)
    assert res.code == 4
    assert res.err.strip().splitlines()[-1].startswith(f"emtk3s fetch: error: {LICENSE_NAME}:")
    assert "after 3 attempts" in res.err and "Traceback" not in res.err


def test_full_disk_is_a_clear_error_and_leaves_nothing_corrupt(
    proj: ProjectDir, tmp_path: Path
) -> None:
    small = tmp_path / "small"
    small.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(small)], capture_output=True
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mount.stderr.decode().strip()}")
    try:
        proj.cache = small / "cache"
        res = proj.run("fetch", "-j", "1", check=False)
        assert res.code == 6, res.err
        last = res.err.strip().splitlines()[-1]
        assert last.startswith("emtk3s fetch: error:") and "no space left" in last
        assert "Traceback" not in res.err
        _assert_cache_sound(proj)
    finally:
        subprocess.run(["umount", str(small)], check=True)


# --- concurrency ---------------------------------------------------------------------------------


def test_two_fetches_on_one_cache_download_each_file_once(proj: ProjectDir) -> None:
    proj.upstream.faults[LICENSE] = [Fault("slow", after=1000, seconds=1.0)]
    a, b = _start(proj, "fetch"), _start(proj, "fetch")
    for proc in (a, b):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    for path, count in proj.upstream.requests.items():
        if path.startswith("/raw/"):
            assert count == 1, f"{path} downloaded {count} times"
    assert len(_blobs(proj)) == 4
    _assert_cache_sound(proj)


def test_two_builds_of_one_package_at_once_are_serialized(proj: ProjectDir) -> None:
    proj.run("all", "--until", "srpm")
    a, b = _start(proj, "--json", "build"), _start(proj, "--json", "build")
    outs = []
    for proc in (a, b):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        outs.append(json.loads(out)["result"]["builds"][0])
    assert sorted(o["skipped"] for o in outs) == [False, True], (
        "the second build must see the first's result"
    )
    rpm_file = Path(outs[0]["rpms"][0])
    subprocess.run(["rpm", "-K", "--nosignature", str(rpm_file)], check=True, capture_output=True)


# --- corruption ----------------------------------------------------------------------------------


def test_cache_entry_changed_on_disk_is_detected_on_use(proj: ProjectDir) -> None:
    proj.run("all", "--until", "validate")
    sha = next(
        s["sha256"] for s in proj.lock["packages"][PKG]["sources"] if s["name"] == README_NAME
    )
    blob = next(f for f in (proj.cache / "blobs").rglob(sha))
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b"tampered")
    res = proj.run("srpm", check=False)
    assert res.code == 3
    assert "corrupt" in res.err and sha in res.err
    assert not blob.exists(), "the corrupt entry is moved aside"
    assert list((proj.cache / "quarantine").iterdir())
    proj.run("all")  # downloads it again, then builds


def test_lock_edited_to_a_wrong_hash_stops_the_build(proj: ProjectDir) -> None:
    lock_file = proj.root / "emtk3s.lock"
    data = json.loads(lock_file.read_text())
    src = next(s for s in data["packages"][PKG]["sources"] if s["name"] == README_NAME)
    src["sha256"] = "0" * 64
    lock_file.write_text(json.dumps(data, indent=2))
    res = proj.run("all", check=False)
    assert res.code == 3
    assert README_NAME in res.err and "0" * 64 in res.err
    assert (
        list((proj.root / "SRPMS").glob("*.rpm")) == [] if (proj.root / "SRPMS").exists() else True
    )


# --- the machine refuses a write: documented exit 6 naming the path --------------


@pytest.fixture()
def ro_dir(tmp_path: Path) -> Iterator[Path]:
    """An empty read-only file system (root ignores file modes; a read-only mount it cannot)."""
    d = tmp_path / "ro"
    d.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(d)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


def _one_line_env_error(res: object, needle: str) -> None:
    code, err = res.code, res.err  # type: ignore[attr-defined]
    assert code == 6, err
    last = err.strip().splitlines()[-1]
    assert "internal error" not in err and "Traceback" not in err
    assert needle in last, last


def test_empty_read_only_cache_is_exit_6_naming_it(proj: ProjectDir, ro_dir: Path) -> None:
    proj.cache = ro_dir / "cache"
    res = proj.run("fetch", check=False)
    _one_line_env_error(res, f"{ro_dir}/cache: read-only file system")


@pytest.mark.parametrize("out", ["SPECS", "SRPMS"])
def test_read_only_output_directory_is_exit_6_naming_it(
    proj: ProjectDir, ro_dir: Path, out: str
) -> None:
    proj.run("all", "--until", "render" if out == "SRPMS" else "fetch")
    target = proj.root / out
    target.mkdir(exist_ok=True)
    subprocess.run(["mount", "--bind", str(ro_dir), str(target)], check=True)
    try:
        res = proj.run("render" if out == "SPECS" else "srpm", check=False)
        _one_line_env_error(res, f"{target}/")
        assert "read-only file system" in res.err
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)
    assert not list(target.glob(".*"))


def test_disk_full_while_building_the_srpm_names_the_staging_path_not_the_cache(
    proj: ProjectDir, tmp_path: Path
) -> None:
    proj.run("all", "--until", "validate")
    small = tmp_path / "small"
    small.mkdir()
    used = int(
        subprocess.run(
            ["du", "-sk", str(proj.root)], capture_output=True, text=True
        ).stdout.split()[0]
    )
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={used + 200}k", "tmpfs", str(small)]
    ).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        shutil.copytree(proj.root, small / "proj", symlinks=True)
        proj.root = small / "proj"
        res = proj.run("srpm", check=False)
        _one_line_env_error(res, "no space left on device")
        assert str(proj.cache) not in res.err and str(small / "proj") in res.err
        assert not list((proj.root / "SRPMS").glob("*")) if (proj.root / "SRPMS").exists() else True
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)
