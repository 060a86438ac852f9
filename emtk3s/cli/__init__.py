"""The command line: thin click commands over the library."""

from emtk3s.cli.app import main

__all__ = ["main"]
