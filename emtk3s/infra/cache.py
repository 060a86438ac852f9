"""A sha256-addressed cache. An entry is only ever created by rename after verification, and is
re-verified on every use; a corrupt entry is moved aside, never served."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from emtk3s.infra.errors import IntegrityError
from emtk3s.infra.fsutil import file_lock

CHUNK = 1 << 20


def default_root() -> Path:
    env = os.environ.get("EMTK3S_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "emtk3s"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


class Cache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or default_root()).resolve()

    # layout -------------------------------------------------------------------------------
    def blob_path(self, sha: str) -> Path:
        return self.root / "blobs" / "sha256" / sha[:2] / sha

    @property
    def partial_dir(self) -> Path:
        return self.root / "partial"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    def lock_for(self, key: str) -> Path:
        return self.root / "locks" / f"{key}.lock"

    # entries ------------------------------------------------------------------------------
    def has(self, sha: str, name: str = "") -> bool:
        """True when a verified entry exists; a corrupt entry is quarantined and IntegrityError
        raised, so a changed byte on disk can never be used."""
        path = self.blob_path(sha)
        if not path.exists():
            return False
        actual = sha256_file(path)
        if actual != sha:
            kept = self.quarantine(path, name or sha, actual)
            raise IntegrityError(
                f"cache entry for {name or sha} is corrupt: expected sha256 {sha}, found {actual}",
                f"moved aside to {kept}; run the command again to download it anew",
            )
        return True

    def get(self, sha: str, name: str = "") -> Path:
        if not self.has(sha, name):
            raise IntegrityError(
                f"{name or sha} (sha256 {sha}) is not in the cache {self.root}",
                "run emtk3s fetch",
            )
        return self.blob_path(sha)

    def add_file(self, tmp: Path, expected: str | None, name: str) -> str:
        """Move a downloaded temp file into the cache after checking its hash.

        A mismatch keeps the bytes in quarantine and raises IntegrityError naming both hashes.
        """
        actual = sha256_file(tmp)
        if expected is not None and actual != expected:
            kept = self.quarantine(tmp, name, actual)
            raise IntegrityError(
                f"{name}: sha256 mismatch: expected {expected}, got {actual}",
                f"the bytes are kept aside in {kept} and not used; check the mirror or the lock",
            )
        dest = self.blob_path(actual)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
        os.replace(tmp, dest)
        return actual

    def add_bytes(self, data: bytes, expected: str | None, name: str) -> str:
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{os.getpid()}-{hashlib.sha256(data).hexdigest()[:16]}"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        with file_lock(self.lock_for(hashlib.sha256(data).hexdigest())):
            return self.add_file(tmp, expected, name)

    def quarantine(self, path: Path, name: str, actual: str) -> Path:
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "+-_." else "_" for c in name)
        dest = self.quarantine_dir / f"{safe}.{actual[:16]}"
        os.replace(path, dest)
        return dest
