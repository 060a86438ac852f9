"""Docs true to the code: every command is in docs/cli.md, every exit code is documented, and
the files the project names exist."""

from __future__ import annotations

import re
from pathlib import Path

import click

from emtk3s.cli.app import main
from emtk3s.infra import errors

REPO = Path(__file__).resolve().parent.parent.parent


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            out += _commands(cmd, f"{prefix}{name} ")
        else:
            out.append(prefix + name)
    return out


def test_every_command_is_in_docs_cli() -> None:
    text = (REPO / "docs" / "cli.md").read_text()
    missing = [c for c in _commands(main) if f"`{c}" not in text]
    assert not missing, f"docs/cli.md lacks {missing}"


def test_every_exit_code_is_documented() -> None:
    text = (REPO / "docs" / "cli.md").read_text()
    for cls in vars(errors).values():
        if isinstance(cls, type) and issubclass(cls, errors.Emtk3sError):
            assert re.search(rf"^\| {cls.exit_code} \| {re.escape(cls.category)} \|", text, re.M), (
                f"exit {cls.exit_code} ({cls.category}) is not in docs/cli.md"
            )


def test_docs_named_in_release_toml_and_readme_exist() -> None:
    for src in ("release.toml", "README.md"):
        for doc in re.findall(r"docs/[\w/.-]+\.md", (REPO / src).read_text()):
            assert (REPO / doc).is_file(), f"{src} names {doc}, which does not exist"
