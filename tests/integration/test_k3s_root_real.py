"""k3s-root against the REAL upstream repositories, where bare clones are at hand
(/work/.mirror/k3s-io+k3s-root/repo and /work/.mirror/buildroot+buildroot/repo on the
development machine; CI has no upstream access and skips these, saying so).

For v0.14.1 (buildroot 2024.02.7) and v0.15.2 (buildroot 2025.02.14): resolve's facts (buildroot's
show-info run contained on both trees), the rendered spec, and `rpmbuild -bp` on the real k3s-root
and buildroot archives (byte-identical to GitHub's: `git archive | gzip -n`), which runs
k3s-root's own scripts/patch with its paths redirected. The 67/68 downloads themselves are not
on this machine (no network): %prep gets stand-in files of the right names, and the download
list is compared with a show-info run here independently of emtk3s's parsing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from emtk3s import catalog
from emtk3s.infra.git import fetch_tag
from emtk3s.model import package as pkgs
from emtk3s.model import release as release_toml
from emtk3s.model.lock import Component, Lock, PackageLock
from emtk3s.model.versions import component_version
from emtk3s.stages.render import render_package
from emtk3s.stages.resolve import _sources, github_archive_prefix, input_digest

CATALOG = catalog.load()

MIRROR = Path(os.environ.get("EMTK3S_REAL_MIRROR", "/work/.mirror"))
KR = MIRROR / "k3s-io+k3s-root" / "repo"
BR = MIRROR / "buildroot+buildroot" / "repo"
REPO = Path(__file__).resolve().parents[2]
MACROS = str(REPO / "emtk3s/data/emt.macros")
pytestmark = pytest.mark.skipif(
    not (KR / "HEAD").exists() or not (BR / "HEAD").exists() or shutil.which("rpmbuild") is None,
    reason="no local bare clones of k3s-io/k3s-root and buildroot/buildroot (CI is offline)",
)
CASES = {
    # tag: (buildroot, downloads, fuse-overlayfs, busybox). For EMT's tool set; a machine whose
    # tar is older than 1.35 gets 69 for v0.15.2 (buildroot 2025.02 adds host-tar there)
    "v0.14.1": ("2024.02.7", 67, "1.11", "1.36.1"),
    "v0.15.2": ("2025.02.14", 68, "1.13", "1.37.0"),
}


# the same file both ways (buildroot's hash files agree)
QUEUE_H = "c13407edd0e33be73cae72514cb234f8612e1c0e54401c9448daffd3a240158b"


def _lock(tag: str, cache: Path) -> tuple[Lock, dict[str, Any]]:
    rel = release_toml.parse(
        {"release": {"k3s": "v1.32.4+k3s1", "k3s_root": tag, "packages": ["k3s-root"]}},
        CATALOG,
        environ={},
    )
    k3s = Component("k3s", "k3s-io/k3s", rel.k3s.tag, None, None, {"VERSION_ROOT": tag})
    comps: dict[str, Component] = {"k3s": k3s}
    checkouts = {}
    for name, url in (("k3s-root", KR), ("buildroot", BR)):
        cdef = CATALOG.components[name]
        want = rel.overrides.get(name) or cdef.tag(pkgs.ResolveContext(rel, comps))
        co = fetch_tag(cache, f"file://{url}", want)
        checkouts[name] = co
        facts = cdef.facts(co) if cdef.facts else {}
        if cdef.derived is not None:
            facts.update(cdef.derived(co, checkouts, rel))
        comps[name] = Component(name, cdef.repo, want, co.info.commit, co.info.commit_time, facts)
    pdef = CATALOG.packages["k3s-root"]
    comp = comps["k3s-root"]
    sources = _sources(pdef, comp, checkouts["k3s-root"], None, comps, rel, checkouts)
    plock = PackageLock("k3s-root", component_version(comp.tag), "k3s-root", sources)
    archives = {
        f"k3s-root-{component_version(tag)}.tar.gz": checkouts["k3s-root"].github_archive(
            github_archive_prefix(comps["k3s-root"])
        ),
        f"buildroot-{comps['buildroot'].tag}.tar.gz": checkouts["buildroot"].github_archive(
            github_archive_prefix(comps["buildroot"])
        ),
    }
    lock = Lock(input_digest(rel), rel.k3s.tag, comps, {"k3s-root": plock})
    return lock, {"release": rel, "archives": archives}


@pytest.fixture(scope="module", params=sorted(CASES))
def resolved(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tag = request.param
    cache = tmp_path_factory.mktemp(f"real-{tag}")
    lock, extra = _lock(tag, cache)
    return tag, lock, extra, cache


def test_facts_and_download_list(resolved: Any) -> None:
    tag, lock, _, _ = resolved
    br_version, count, fo, busybox = CASES[tag]
    assert lock.components["k3s-root"].facts["buildroot_version"] == br_version
    br = lock.components["buildroot"].facts
    assert len(br["downloads"]) == count
    assert br["packages"]["fuse-overlayfs"] == fo and br["packages"]["busybox"] == busybox
    # k3s-root's overlay wins over buildroot's own conntrack-tools recipe
    assert br["packages"]["conntrack-tools"] == "1.4.7"
    # buildroot records only sha512 for binutils, gcc and ipset; everything else has a sha256
    sha512_only = sorted(d["dl_dir"] for d in br["downloads"] if not d["sha256"])
    assert sha512_only == ["binutils", "gcc", "ipset"]
    srcs = {s.name: s for s in lock.packages["k3s-root"].sources}
    assert len(srcs) == count + 2
    assert all(s.sha256 or s.sha512 for s in srcs.values())
    # 2024.02 downloads cvsweb's queue.h?rev=1.70 (a query string); 2025.02 a raw GitHub file
    q = next(s for s in srcs.values() if "queue.h" in s.name)
    want = "musl-compat-headers-queue.h-rev-1.70" if tag == "v0.14.1" else "queue.h"
    assert q.name == f"k3s-root-{tag[1:]}-{want}" and q.sha256 == QUEUE_H
    assert "gettext-0.22.4.tar.xz" in {d["_file"] for d in br["downloads"]}
    # no host-tar/host-cmake/host-xz: the list assumes EMT's tool set
    assert not {d["dl_dir"] for d in br["downloads"]} & {"tar", "cmake", "xz"}
    assert br["host_tools"]["BR2_TAR_HOST_DEPENDENCY"] == ["tar", "1.35"]


def test_list_equals_buildroots_own_show_info(resolved: Any, tmp_path: Path) -> None:
    """Unpack both trees, run k3s-root's own scripts/patch (paths redirected), then buildroot's
    `make show-info` in a network namespace, and compare its downloads with the lock's."""
    tag, lock, extra, _ = resolved
    from emtk3s.packages.k3s_root import showinfo

    top = tmp_path
    for data in extra["archives"].values():
        subprocess.run(["tar", "-xzf", "-", "-C", str(top)], input=data, check=True)
    kr = next(top.glob("k3s-root-*"))
    br = next(top.glob("buildroot-*"))
    (top / "usr-src").mkdir()
    br.rename(top / "usr-src" / "buildroot")
    kr.rename(top / "source")
    script = (top / "source/scripts/patch").read_text()
    script = script.replace("/usr/src", f"{top}/usr-src").replace(" /source", f" {top}/source")
    (top / "source/scripts/patch").write_text(script)  # v0.15.1+ finds the tree from its path
    env = {"PATH": os.environ["PATH"], "HOME": str(top), "LC_ALL": "C", "BUILDARCH": "amd64"}
    subprocess.run(
        ["bash", str(top / "source/scripts/patch")],
        cwd=top,
        env=env,
        check=True,
        capture_output=True,
    )
    tree = top / "usr-src" / "buildroot"
    with (tree / ".config").open("a") as fh:
        fh.write("# BR2_CCACHE is not set\n")
    args, _ = showinfo.host_overrides(tree)
    showinfo.contained(["make", "-s", "olddefconfig"], tree, env)
    raw = json.loads(showinfo.contained(["make", "-s", "show-info", *args], tree, env))
    theirs = {(p["dl_dir"], d["source"]) for p in raw.values() for d in p.get("downloads") or []}
    ours = {(d["dl_dir"], d["_file"]) for d in lock.components["buildroot"].facts["downloads"]}
    assert ours == theirs


def test_render_and_prep_on_the_real_archives(resolved: Any, tmp_path: Path) -> None:
    tag, lock, extra, _ = resolved
    out = render_package(extra["release"], lock, CATALOG.packages["k3s-root"], None)
    top = tmp_path / "top"
    for d in ("SOURCES", "SPECS", "BUILD"):
        (top / d).mkdir(parents=True)
    for name, data in out.files.items():
        (top / ("SPECS" if name.endswith(".spec") else "SOURCES") / name).write_bytes(data)
    for name, data in extra["archives"].items():
        (top / "SOURCES" / name).write_bytes(data)
    for s in lock.packages["k3s-root"].sources[2:]:  # stand-ins: no network here
        (top / "SOURCES" / s.name).write_bytes(b"stand-in for " + s.name.encode() + b"\n")
    spec = top / "SPECS" / "k3s-root.spec"
    sigs = json.loads(out.files["k3s-root.signatures.json"])["Signatures"]
    pending = [s.name for s in lock.packages["k3s-root"].sources if not s.sha256]
    assert set(sigs) | set(pending) == {s.name for s in lock.packages["k3s-root"].sources}
    text = spec.read_text()
    for name in pending:
        assert "sha256 pending" in text and name in text
    proc = subprocess.run(
        ["unshare", "--map-root-user", "--net", "--", "rpmbuild", "-bp", "--nodeps"]
        + ["--load", MACROS, "--define", f"_topdir {top}", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    build = next((top / "BUILD").iterdir())
    br = build / "usr-src" / "buildroot"
    # k3s-root's scripts/patch ran: its overlay, its patches, its .config (+ ccache off)
    assert (br / "package/conntrack-tools/conntrack-tools.mk").read_text().count("1.4.7")
    assert (br / "package/linux-headers/linux-headers-emtk3s.mk").is_file()
    assert "/usr/include" not in (br / "package/linux-headers/linux-headers.mk").read_text()
    assert (br / ".config").read_text().endswith("# BR2_CCACHE is not set\n")
    queue = "queue.h?rev=1.70" if tag == "v0.14.1" else "queue.h"
    assert (build / "dl/musl-compat-headers" / queue).is_file()


def test_v0_15_0_resolves_with_buildroots_util_linux_license_list(tmp_path: Path) -> None:
    """k3s-root v0.15.0 pins buildroot 2025.02.5, whose util-linux.mk lacks a comma in its
    license list (show-info: `... ISC (rfkill) MIT (hardlink, flock)`): resolve used to stop
    with "no SPDX mapping". The list is read tolerantly: both terms are in the License."""
    lock, _extra = _lock("v0.15.0", tmp_path / "cache")
    br = lock.components["buildroot"].facts
    text = ", ".join(p["_part"] for p in br["licenses"]["util-linux"]["licenses"])
    assert "ISC (rfkill) MIT (hardlink, flock)" in text  # buildroot's own text, as it is
    row = next(r for r in br["license_map"] if r["package"] == "util-linux")
    assert [t["_term"] for t in row["terms"]][-2:] == ["ISC", "MIT"] and not row["unmapped"]
    terms = [t["_term"] for t in br["license"]]
    assert "ISC" in terms and "MIT" in terms
    assert not [t for t in terms if t.startswith("LicenseRef-buildroot")], terms
