"""Commands for K3s-specific commands: vendor."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
