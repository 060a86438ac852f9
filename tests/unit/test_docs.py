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


def _rows() -> dict[str, str]:
    """docs/cli.md's command table: the command's words -> its whole row."""
    rows = {}
    for line in (REPO / "docs" / "cli.md").read_text().splitlines():
        m = re.match(r"\| `([a-z][a-z -]*?)(?: [\[<`-]|`)", line)
        if m:
            first_cell = re.split(r"(?<!\\)\|", line)[1]  # \| inside a cell is not a border
            for part in re.findall(r"`([a-z][a-z -]*?)(?: [\[<-]|`)", first_cell):
                rows.setdefault(part.strip(), line)
            rows.setdefault(m.group(1).strip(), line)
    return rows


def test_every_option_of_every_command_is_in_its_docs_row() -> None:
    rows = _rows()
    ctx = click.Context(main)
    missing = []
    for words in _commands(main):
        cmd: click.Command | None = main
        for w in words.split():
            assert isinstance(cmd, click.Group)
            cmd = cmd.get_command(ctx, w)
        assert cmd is not None
        row = rows.get(words)
        assert row is not None, f"docs/cli.md has no row for {words}"
        for param in cmd.params:
            if isinstance(param, click.Option) and not param.hidden:
                if not any(re.search(rf"{re.escape(o)}\b", row) for o in param.opts):
                    missing.append(f"{words} {max(param.opts, key=len)}")
    assert not missing, f"docs/cli.md rows lack {missing}"
