"""Commands for chain builds and build backends (chroot, mock)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
