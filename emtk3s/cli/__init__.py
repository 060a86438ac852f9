"""The command line: thin click commands over the library."""

from emtk3s.cli.main import main

__all__ = ["main"]
