"""Commands for EMT integration: emt integrate, compat, bump, check-updates, root-diff."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
