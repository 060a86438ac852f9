"""`emt integrate --dry-run` prints one valid patch on stdout, accepted or refused: applied with
`git apply` to a copy of the checkout it gives exactly what the real integrate writes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.fixtures import emt_checkout
from tests.integration.test_emt import _emtk3s, _tree, _use_repo_project, repo_project  # noqa: F401  (fixtures: the committed SPECS in a copy)

FLAGS = ("--replace", "--allow-downgrade")


def test_the_dry_run_patch_applies_to_what_integrate_writes(tmp_path: Path) -> None:
    emt = emt_checkout.make(tmp_path / "emt")
    copy = tmp_path / "copy"
    shutil.copytree(emt, copy, symlinks=True)
    dry = _emtk3s("emt", "integrate", "--emt-repo", str(emt), "--dry-run", *FLAGS)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("diff --git "), dry.stdout[:200]
    assert "diff --git" not in dry.stderr, "one stream: the patch is on stdout only"
    subprocess.run(["git", "apply", "-"], input=dry.stdout.encode(), cwd=copy, check=True)
    real = _emtk3s("emt", "integrate", "--emt-repo", str(emt), *FLAGS)
    assert real.returncode == 0, real.stderr
    journal = ".emtk3s-integrate"
    assert {k: v for k, v in _tree(copy).items() if not k.startswith(journal)} == {
        k: v for k, v in _tree(emt).items() if not k.startswith(journal)
    }


def test_a_refused_dry_run_prints_its_patch_on_stdout_too(tmp_path: Path) -> None:
    emt = emt_checkout.make(tmp_path / "emt")
    shutil.rmtree(emt / "SPECS-EXTENDED")
    assert _emtk3s("emt", "integrate", "--emt-repo", str(emt)).returncode == 0
    spec = emt / "SPECS/slirp4netns/slirp4netns.spec"
    spec.write_text(spec.read_text().replace("Release:        1%", "Release:        7%"))
    shutil.rmtree(emt / "SPECS/k3s-iptables-helpers")  # so that the refused plan still writes
    dry = _emtk3s("emt", "integrate", "--emt-repo", str(emt), "--dry-run")
    assert dry.returncode == 9, dry.stderr  # the hand edit is refused
    assert "diff --git a/SPECS/k3s-iptables-helpers/k3s-iptables-helpers.spec" in dry.stdout
    assert "diff --git" not in dry.stderr
    subprocess.run(["git", "apply", "--check", "-"], input=dry.stdout.encode(), cwd=emt, check=True)
