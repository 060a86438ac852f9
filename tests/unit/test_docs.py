"""Docs true to the code: every command is in docs/cli.md, every exit code is documented, and
the files the project names exist."""

from __future__ import annotations

import re
from pathlib import Path

import click

from emtk3s.cli.main import COMMANDS, main
from emtk3s.infra import errors

REPO = Path(__file__).resolve().parent.parent.parent


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    out = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
        if isinstance(cmd, click.Group):
            out += _commands(cmd, f"{prefix}{name} ")
        else:
            out.append(prefix + name)
    return out


def test_every_command_is_in_docs_cli() -> None:
    text = (REPO / "docs" / "cli.md").read_text()
    missing = [c for c in _commands(main) if f"`{c}" not in text]
    assert not missing, f"docs/cli.md lacks {missing}"


def test_help_lists_each_command_with_its_own_help() -> None:
    """``emtk3s --help`` lists the commands from a table without importing them: the table's
    text must be each command's own help (its docstring), and name the module defining it."""
    ctx = click.Context(main)
    for name, (module, text) in COMMANDS.items():
        cmd = main.get_command(ctx, name)
        assert cmd is not None and cmd.name == name, (name, module)
        assert cmd.help == text, f"COMMANDS[{name!r}] help differs from its docstring"


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
