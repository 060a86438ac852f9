"""`pip install .` / pipx install a wheel, not the source tree: templates and data must be in it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO


def test_a_built_wheel_renders_the_same_specs(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "build", "*.egg-info", "__pycache__", ".emtk3s", ".pytest_cache"
        ),
    )
    whl = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(whl)],
        cwd=src,
        check=True,
        capture_output=True,
    )
    (wheel,) = whl.glob("emtk3s-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        z.extractall(site)
    for pkg in ("k3s", "k3s_root", "k3s_iptables_helpers", "fuse_overlayfs", "slirp4netns"):
        tpl = f"emtk3s/packages/{pkg}/templates/{pkg.replace('_', '-')}.spec.j2"
        assert tpl in names, f"{tpl} is not in {wheel.name}"
    for data in ("emt.macros", "rpmlint.toml", "known-hashes.json"):
        assert f"emtk3s/data/{data}" in names
    # render from the installed wheel only (not the source tree) into a fresh project
    proj = tmp_path / "proj"
    proj.mkdir()
    for f in ("release.toml", "emtk3s.lock", "changelog.json"):
        if (REPO / f).exists():
            shutil.copy(REPO / f, proj / f)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMTK3S_")}
    env["PYTHONPATH"] = str(site)
    where = subprocess.run(
        [sys.executable, "-c", "import emtk3s; print(emtk3s.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(site)), where
    out = subprocess.run(
        [sys.executable, "-m", "emtk3s", "-C", str(proj), "render"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    rendered = sorted(d.name for d in (proj / "SPECS").iterdir())
    assert len(rendered) >= 3, rendered  # what the default lock can render offline
    for spec_dir in (REPO / "SPECS" / n for n in rendered):
        for f in spec_dir.iterdir():
            got = proj / "SPECS" / spec_dir.name / f.name
            assert got.read_bytes() == f.read_bytes(), f"{got} differs from the repository's"


def test_install_sh_says_what_it_did_and_what_to_run_next(tmp_path: Path) -> None:
    """The README's first command, on a copy of the tracked tree: it names what it installed,
    where the command lives, the specs it rendered and validated, and the next command."""
    repo = Path(__file__).resolve().parents[2]
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=True
    ).stdout.split(b"\0")
    copy = tmp_path / "emtk3s"
    for name in filter(None, files):
        src = repo / name.decode()
        if src.is_file():
            dst = copy / name.decode()
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
            dst.chmod(src.stat().st_mode)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMTK3S_")}
    env["EMTK3S_CACHE"] = str(tmp_path / "cache")  # an empty cache: the sources are missing
    out = subprocess.run(
        ["./install.sh"], cwd=copy, capture_output=True, text=True, env=env, timeout=900
    )
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "install.sh: system packages" in text
    assert "installed in .venv (the command is .venv/bin/emtk3s)" in text
    assert "SPECS/ rendered and validated" in text
    assert "  SPECS/k3s-iptables-helpers/k3s-iptables-helpers.spec" in text
    assert "stopped: needs network" in out.stderr
    assert ".venv/bin/emtk3s all" in text.split("building needs the sources", 1)[1]
