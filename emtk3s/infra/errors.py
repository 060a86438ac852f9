"""One exception hierarchy; each class maps to a documented exit code (docs/cli.md)."""

from __future__ import annotations

from typing import Any


class Emtk3sError(Exception):
    """Root of every error emtk3s reports to a user.

    ``str(err)`` is one line that names the input; ``hint`` says how to fix it.
    """

    exit_code = 1
    category = "error"

    def __init__(self, message: str, hint: str = "", details: str = "") -> None:
        super().__init__(message)
        self.message = " ".join(message.split())
        self.hint = " ".join(hint.split())
        self.details = details  # multi-line material (a diff, a log tail) shown before the line
        self.result: Any = None  # partial result for --json (a chain's table), a result value

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(Emtk3sError):
    """Bad input from the user: release.toml, a flag, a tag, a file given on the command line."""

    exit_code = 2
    category = "input"


class IntegrityError(Emtk3sError):
    """A hash, size or commit does not match what the lock pins."""

    exit_code = 3
    category = "integrity"


class UpstreamError(Emtk3sError):
    """An upstream host or mirror could not be reached or answered wrongly."""

    exit_code = 4
    category = "upstream"


class BuildError(Emtk3sError):
    """rpmbuild (or a backend) failed; the log path is in the message."""

    exit_code = 5
    category = "build"


class EnvironmentProblem(Emtk3sError):
    """A system tool is missing or the machine cannot do what was asked."""

    exit_code = 6
    category = "environment"


class DriftError(Emtk3sError):
    """Committed output differs from what the templates render (render --check)."""

    exit_code = 7
    category = "drift"


class LockedError(Emtk3sError):
    """--locked was given but the lock would have to change."""

    exit_code = 8
    category = "locked"


class ConflictError(Emtk3sError):
    """A K3s version conflict between a cluster template and a host (HTTP 409 semantics)."""

    exit_code = 9
    category = "conflict"


class PreconditionError(Emtk3sError):
    """An earlier stage has not run yet (no lock, nothing rendered, a source not fetched)."""

    exit_code = 10
    category = "precondition"


class NeedsNetwork(Emtk3sError):
    """--offline stopped before building anything: the cache lacks sources ("stopped: needs
    network"). The result says which stages finished."""

    exit_code = 11
    category = "needs-network"


class Interrupted(Emtk3sError):
    """Ctrl-C (SIGINT) or SIGTERM: the work stopped; partial files were cleaned up."""

    exit_code = 130
    category = "interrupted"
