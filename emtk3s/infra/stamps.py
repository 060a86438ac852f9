"""Stage stamps: what inputs produced an output, so an unchanged stage is skipped.

One helper for every stage: a stage computes its inputs digest (:func:`digest`), asks
:meth:`Stamps.fresh` whether the stamp it saved last time has that key, and saves a new stamp
after it did its work. Stamps live in ``<project>/.emtk3s/state/<stage>-<pkg>.json`` and name
their outputs *relative to the project*: a copied project never takes the original's outputs
for its own (and never deletes them). A stamp that is not valid JSON or has the wrong shape is
an error naming its file; a stamp an older emtk3s wrote (no version) is ignored (the stage
reruns).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from emtk3s.infra.errors import InputError
from emtk3s.infra.fsutil import write_if_changed

STAMP_VERSION = 2


def digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        b = p.encode() if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "big"))
        h.update(b)
    return h.hexdigest()


_NAME = r"[A-Za-z0-9][A-Za-z0-9+._~^-]{0,250}"
#: the outputs stamps may name (and a stage may delete): an SRPM, an RPM under its arch
SRPM_PATH = re.compile(rf"SRPMS/{_NAME}\.src\.rpm")
RPM_PATH = re.compile(rf"RPMS/(?:x86_64|aarch64|noarch)/{_NAME}\.rpm")


@dataclass(frozen=True)
class Stamps:
    """The stamps of one project."""

    root: Path  # the project directory; every path in a stamp is relative to it

    @property
    def dir(self) -> Path:
        return self.root / ".emtk3s" / "state"

    def file(self, stage: str, pkg: str) -> Path:
        return self.dir / f"{stage}-{pkg}.json"

    def load(self, stage: str, pkg: str) -> dict[str, Any] | None:
        """The stamp's data, or None (none yet, or written by an older emtk3s)."""
        path = self.file(stage, pkg)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        if not raw.strip(b"\0 \n"):
            return None  # emptied by a crash (stamps are not fsynced): the stage reruns
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise self.malformed(path, f"not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise self.malformed(path, "not a JSON object")
        if data.get("version") != STAMP_VERSION:
            return None
        if not isinstance(data.get("key"), str):
            raise self.malformed(path, "no key")
        out: dict[str, Any] = data
        return out

    def fresh(self, stage: str, pkg: str, key: str) -> dict[str, Any] | None:
        """The stamp when it was made from inputs with this digest, else None."""
        stamp = self.load(stage, pkg)
        return stamp if stamp is not None and stamp["key"] == key else None

    def save(self, stage: str, pkg: str, key: str, **data: Any) -> None:
        body = {"version": STAMP_VERSION, "key": key, **data}
        # not fsynced: a stamp a crash loses or empties only makes the stage run again
        write_if_changed(
            self.file(stage, pkg),
            json.dumps(body, indent=2, sort_keys=True).encode(),
            durable=False,
        )

    def rel(self, path: Path) -> str:
        """``path`` (inside the project) as a stamp records it."""
        return path.resolve().relative_to(self.root.resolve()).as_posix()

    def path(self, stage: str, pkg: str, rel: Any, form: re.Pattern[str] | None = None) -> Path:
        """A path a stamp recorded, inside this project and, with ``form``, of the one shape
        the stage writes (e.g. ``SRPMS/<name>.src.rpm``): a stage deletes the output its stamp
        names before making it again, so a stamp naming ``emtk3s.lock`` or ``SPECS/...`` is a
        malformed stamp, never a file to delete."""
        p = PurePosixPath(rel) if isinstance(rel, str) else None
        if p is None or not rel or p.is_absolute() or ".." in p.parts:
            raise self.malformed(self.file(stage, pkg), f"{rel!r} is not a path inside the project")
        if form is not None and (str(p) != rel or not form.fullmatch(rel)):
            raise self.malformed(
                self.file(stage, pkg), f"{rel!r} is not an output this stage writes"
            )
        return self.root / p

    @staticmethod
    def malformed(path: Path, why: str) -> InputError:
        return InputError(
            f"{path}: malformed stamp: {why}", "delete the file; the stage runs again"
        )
