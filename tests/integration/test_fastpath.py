"""A no-op run trusts verified files by their stat record, and still catches a changed one:
a cached source or an SRPM rewritten with the same size and its mtime put back (its ctime moves),
and `--verify` / `--locked` rehash everything."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emtk3s.infra.cache import trust_record
from tests.conftest import ProjectDir, make_project
from tests.fixtures.upstream import Upstream

PKG = "k3s-iptables-helpers"


@pytest.fixture()
def proj(fresh_upstream: Upstream, tmp_path: Path) -> ProjectDir:
    p = make_project(tmp_path / "proj", fresh_upstream)
    p.write_release(packages=[PKG])
    for stage in ("resolve", "fetch", "render", "srpm"):  # the stages this is about
        p.run(stage)
    return p


def _same_size_same_mtime(path: Path, flip_at: int) -> bytes:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[flip_at] ^= 0x20
    os.chmod(path, 0o644)
    time.sleep(0.01)
    path.write_bytes(bytes(data))
    os.chmod(path, st.st_mode & 0o777)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert after.st_ctime_ns != st.st_ctime_ns
    return bytes(data)


def _srpm_stage(p: ProjectDir, *flags: str) -> dict[str, object]:
    res = p.run(*flags, "--json", "srpm")
    out: dict[str, object] = res.json["result"]["srpms"][0]
    return out


def test_changed_srpm_same_size_restored_mtime_is_rebuilt(proj: ProjectDir) -> None:
    first = _srpm_stage(proj)
    assert first["skipped"] is True, "a no-op trusts the SRPM it recorded"
    srpm = Path(str(first["srpm"]))
    good = srpm.read_bytes()
    _same_size_same_mtime(srpm, len(good) - 10)
    again = _srpm_stage(proj)
    assert again["skipped"] is False, "the changed SRPM is noticed and made again"
    assert srpm.read_bytes() == good
    assert _srpm_stage(proj)["skipped"] is True


def test_srpm_verify_rehashes_and_catches_a_forged_record(proj: ProjectDir) -> None:
    srpm = Path(str(_srpm_stage(proj)["srpm"]))
    stamp_file = proj.root / ".emtk3s" / "state" / f"srpm-{PKG}.json"
    good = srpm.read_bytes()
    srpm.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    stamp = json.loads(stamp_file.read_text())
    stamp["stat"] = trust_record(srpm)
    stamp_file.write_text(json.dumps(stamp))
    assert _srpm_stage(proj)["skipped"] is True, "a matching record is trusted unread"
    assert _srpm_stage(proj, "--verify")["skipped"] is False, "--verify reads it and rebuilds"
    assert srpm.read_bytes() == good


def test_changed_cached_source_same_size_restored_mtime_is_refused(proj: ProjectDir) -> None:
    src = next(s for s in proj.lock["packages"][PKG]["sources"] if s["name"].endswith("README.md"))
    blob = next(f for f in (proj.cache / "blobs").rglob(src["sha256"]))
    evil = _same_size_same_mtime(blob, 3)
    res = proj.run("fetch", check=False)
    assert res.code == 3, res.err
    assert "corrupt" in res.err and src["sha256"] in res.err
    assert hashlib.sha256(evil).hexdigest() in res.err
    assert "Traceback" not in res.err
    kept = [f.read_bytes() for f in (proj.cache / "quarantine").iterdir()]
    assert evil in kept, "the changed bytes are moved aside, never served"
    assert not blob.exists() or blob.read_bytes() != evil
    proj.run("fetch")  # downloads it again
    assert blob.read_bytes() != evil


def test_locked_rehashes_every_source(proj: ProjectDir) -> None:
    # forge a record that matches a changed blob: only a full rehash can see it
    src = next(s for s in proj.lock["packages"][PKG]["sources"] if s["name"].endswith("README.md"))
    sha = src["sha256"]
    blob = next(f for f in (proj.cache / "blobs").rglob(sha))
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[::-1])
    with open(proj.cache / "verified.log", "a", encoding="ascii") as log:
        log.write(f"{sha} {' '.join(map(str, trust_record(blob) or []))}\n")
    proj.run("fetch")  # trusted: the record says it was verified
    res = proj.run("fetch", "--locked", check=False)
    assert res.code == 3 and "corrupt" in res.err, res.err


def _imported(p: ProjectDir, *args: str) -> set[str]:
    """The modules a run of emtk3s imports (python -X importtime), and the run's JSON result."""
    cmd = [sys.executable, "-X", "importtime", "-m", "emtk3s", "-C", str(p.root), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=p.env(), timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_noop_all_never_loads_the_rpm_bindings(proj: ProjectDir) -> None:
    # what an up-to-date build needs of the SRPM header (BUILDTIME, BuildRequires) is in the
    # srpm stamp: loading the bindings was a third of a no-op `all`
    proj.run("all")
    assert "rpm" not in _imported(proj, "all")
    res = proj.run("--json", "all")
    builds = res.json["result"]["stages"]["build"]["builds"]
    assert [b["status"] for b in builds] == ["up to date"], builds
    # a stamp written before the header facts were recorded: read once, then recorded
    stamp_file = proj.root / ".emtk3s" / "state" / f"srpm-{PKG}.json"
    stamp = json.loads(stamp_file.read_text())
    want = (stamp.pop("buildtime"), stamp.pop("requires"))
    stamp_file.write_text(json.dumps(stamp))
    assert "rpm" in _imported(proj, "all")
    again = json.loads(stamp_file.read_text())
    assert (again["buildtime"], again["requires"]) == want
    assert "rpm" not in _imported(proj, "all")


def test_failed_rebuild_leaves_no_srpm_of_older_inputs(proj: ProjectDir) -> None:
    # the SRPM being replaced is removed before rpmbuild writes the new one (as rpmbuild's own
    # truncation would): a failure leaves neither it nor its stamp, and the next good run makes it
    first = _srpm_stage(proj)
    old = Path(str(first["srpm"]))
    spec = proj.root / "SPECS" / PKG / f"{PKG}.spec"
    spec.write_text(spec.read_text().replace("%description", "%bogus_section\n%description", 1))
    res = proj.run("srpm", check=False)
    assert res.code != 0 and "Traceback" not in res.err
    assert not old.exists(), "no SRPM of the older inputs is left behind"
    assert not (proj.root / ".emtk3s" / "state" / f"srpm-{PKG}.json").exists()
    proj.run("render")  # puts the spec right
    again = _srpm_stage(proj)
    assert again["skipped"] is False and again["sha256"] == first["sha256"]  # reproducible
    assert hashlib.sha256(Path(str(again["srpm"])).read_bytes()).hexdigest() == first["sha256"]
