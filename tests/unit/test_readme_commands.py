"""Every emtk3s command line the README and docs/ show is one the command line accepts: its
command, subcommand and options exist and take the values written (click parses each)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from emtk3s.cli.main import main
from emtk3s.cli.runner import hoist_globals

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def _examples() -> list[tuple[str, str]]:
    out = []
    for doc in DOCS:
        in_block = False
        for line in doc.read_text().splitlines():
            if line.startswith("```"):
                in_block = not in_block
                continue
            text = line.split(" #")[0].strip()
            m = re.match(r"^(?:[A-Z_]+=\S+ )*(?:\.venv/bin/)?emtk3s (.+)$", text)
            if in_block and m and "<" not in text and "..." not in text:
                out.append((f"{doc.relative_to(REPO)}: {text}", m.group(1)))
    return out


EXAMPLES = _examples()


def _parse(args: list[str]) -> None:
    ctx = main.make_context("emtk3s", hoist_globals(args))
    group: click.Group = main
    rest = [*ctx._protected_args, *ctx.args]  # click 8.2 keeps the subcommand words apart
    while rest:
        name, cmd, rest = group.resolve_command(ctx, rest)
        assert cmd is not None and name is not None
        ctx = cmd.make_context(name, rest, parent=ctx)
        if not isinstance(cmd, click.Group):
            return
        group, rest = cmd, [*ctx._protected_args, *ctx.args]


def test_there_are_examples_to_check() -> None:
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize(("where", "args"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_each_documented_command_line_parses(where: str, args: str) -> None:
    argv = [a for a in shlex.split(args) if a != ">" and not a.endswith(".json")]
    try:
        _parse(argv)
    except click.UsageError as exc:
        raise AssertionError(f"{where}: {exc.format_message()}") from None
