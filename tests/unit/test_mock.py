"""The mock backend's generated config loads the way mock loads a config (Python executed with
``config_opts`` in scope), and its command line and exit-code mapping are as documented. A real
mock run is not possible on Debian (mock is not packaged there): see docs/backends.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from emtk3s.builders import mock


def _load(text: str) -> dict[str, object]:
    # mock's util.load_config: config_opts pre-filled with defaults, then the file is exec'd
    config_opts: dict[str, object] = {"macros": {}, "environment": {}, "plugin_conf": {}}
    exec(compile(text, "emtk3s-emt3-x86_64.cfg", "exec"), {"config_opts": config_opts})  # noqa: S102
    return config_opts


def test_config_loads_with_the_expected_settings(tmp_path: Path) -> None:
    setup = mock.MockSetup(
        "aarch64", "https://emt-mirror.example/3.0/base/aarch64", tmp_path / "RPMS", 1731092757
    )
    opts = _load(mock.config_text(setup))
    assert opts["root"] == "emtk3s-emt3-aarch64"
    assert opts["target_arch"] == "aarch64" and opts["legal_host_arches"] == ("aarch64",)
    assert opts["rpmbuild_networking"] is False and opts["use_host_resolv"] is False
    env = opts["environment"]
    assert isinstance(env, dict) and env["SOURCE_DATE_EPOCH"] == "1731092757"
    macros = opts["macros"]
    assert isinstance(macros, dict)
    assert macros["%dist"] == ".emt3"
    assert macros["%use_source_date_epoch_as_buildtime"] == "1"
    assert macros["%clamp_mtime_to_source_date_epoch"] == "1"
    dnf = str(opts["dnf.conf"])
    assert "baseurl=https://emt-mirror.example/3.0/base/aarch64" in dnf
    assert f"baseurl={(tmp_path / 'RPMS').resolve().as_uri()}" in dnf


def test_command_line_and_exit_causes(tmp_path: Path) -> None:
    cmd = mock.command(tmp_path / "c.cfg", tmp_path / "x.src.rpm", tmp_path / "out")
    assert cmd[:4] == ["mock", "-r", str(tmp_path / "c.cfg"), "--rebuild"]
    assert "--resultdir" in cmd and str(tmp_path / "out") in cmd
    assert mock.explain(10) == "the build failed (rpmbuild)"
    assert mock.explain(30).startswith("the package manager failed")
    assert mock.explain(99) == "unknown mock exit code 99"


def test_hostile_repo_urls_cannot_inject(tmp_path: Path) -> None:
    import pytest

    from emtk3s.infra.errors import InputError

    for bad in ("https://x/\n[evil]\nbaseurl=file:///", "file:///etc", "https://x/%{lua:print(1)}"):
        with pytest.raises(InputError):
            mock.config_text(mock.MockSetup("x86_64", bad, tmp_path, 0))
    # quotes and parentheses are legal in a URL: they stay data in the generated Python
    odd = "https://x/" + "'" * 3 + "+__import__('os').system('false')#"
    opts = _load(mock.config_text(mock.MockSetup("x86_64", odd, tmp_path, 0)))
    assert f"baseurl={odd}" in str(opts["dnf.conf"])


def test_mock_config_command_and_backend_on_a_host_without_mock(tmp_path: Path) -> None:
    (tmp_path / "release.toml").write_text('[release]\nk3s = "v1.32.4+k3s1"\n')
    run = [sys.executable, "-m", "emtk3s", "-C", str(tmp_path)]
    out = subprocess.run(
        [*run, "mock-config", "--mock-repo", "https://emt.example/base"],
        capture_output=True,
        text=True,
        check=True,
    )
    cfg = tmp_path / ".emtk3s" / "mock" / "emtk3s-emt3-x86_64.cfg"
    assert f"config: {cfg}" in out.stdout
    _load(cfg.read_text())


def test_cli_backend_choices_match_dispatch() -> None:
    from emtk3s.builders import dispatch
    from emtk3s.cli.commands import chain as cli_chain

    assert cli_chain.BACKENDS == dispatch.BACKENDS
