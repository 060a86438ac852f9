"""Where things are: one project directory holds release.toml, the lock and the stage outputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from emtk3s.infra.cache import Cache
from emtk3s.infra.stamps import Stamps


@dataclass(frozen=True)
class Project:
    root: Path
    cache: Cache
    release_file: Path
    lock_file: Path
    templates: Path | None  # a project's own templates/<pkg>/ overrides (None: the packages')

    @classmethod
    def at(
        cls,
        root: Path,
        cache_dir: Path | None = None,
        release_file: Path | None = None,
        templates: Path | None = None,
    ) -> Project:
        root = root.resolve()
        rel = (release_file or root / "release.toml").resolve()
        if templates is None and (root / "templates").is_dir():
            templates = root / "templates"
        return cls(root, Cache(cache_dir), rel, root / "emtk3s.lock", templates)

    @property
    def specs(self) -> Path:
        return self.root / "SPECS"

    @property
    def srpms(self) -> Path:
        return self.root / "SRPMS"

    @property
    def rpms(self) -> Path:
        return self.root / "RPMS"

    @property
    def state(self) -> Path:
        return self.root / ".emtk3s" / "state"

    @property
    def stamps(self) -> Stamps:
        return Stamps(self.root)

    @property
    def locks(self) -> Path:
        """Where the file locks live (one writer per project file)."""
        return self.root / ".emtk3s" / "locks"

    @property
    def work(self) -> Path:
        return self.root / ".emtk3s" / "work"

    @property
    def logs(self) -> Path:
        return self.root / ".emtk3s" / "logs"


#: the package's data files (installed beside the modules, in a wheel as in a checkout)
DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def data_file(name: str) -> Path:
    return DATA_DIR / name
