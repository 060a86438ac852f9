"""What every stage's ``run`` gets: the project, the release, the options of this run, and
what the stages before it left (the lock value, packages they could not prepare, SRPMs).

A stage is a module of this package with ``NAME`` and ``run(StageRun) -> Result``; a result is
a dataclass (its ``--json`` form comes from :mod:`emtk3s.infra.jsonout`) and may carry ``lock`` (a new lock value), ``unrendered``
or ``uncached`` (package -> why a later stage cannot handle it) and ``srpms``. ``all`` threads one ``StageRun`` through them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from emtk3s.infra.paths import Project
from emtk3s.model import lock as lockmod
from emtk3s.model.lock import Lock
from emtk3s.model.package import Catalog
from emtk3s.model.release import Release

if TYPE_CHECKING:
    from emtk3s.infra.http import Policy
    from emtk3s.model.artifacts import SrpmInfo


@dataclass(frozen=True)
class Options:
    """Every flag a stage may read (each stage reads its own)."""

    packages: tuple[str, ...] = ()  # empty: each stage's default set
    offline: bool = False
    locked: bool = False
    refresh: bool = False
    repin: bool = False
    check: bool = False
    force: bool = False
    keep_other_backend: bool = False  # keep RPMs another backend built of the same SRPM
    nodeps: bool = False
    backend: str = "rpmbuild"
    chroot: Path | None = None
    mock_repo: str | None = None
    policy: Policy | None = None
    jobs: int = 1  # parallel builds
    keep_going: bool = False
    date: str | None = None  # --date YYYY-MM-DD of a new changelog entry


@dataclass(frozen=True)
class StageRun:
    project: Project
    release: Release
    options: Options = field(default_factory=Options)
    lock: Lock | None = None  # the lock value the stage before left (None: read the file)
    unrendered: Mapping[str, str] = field(default_factory=dict)  # package -> why not rendered
    uncached: Mapping[str, str] = field(default_factory=dict)  # package -> sources not cached
    srpms: tuple[SrpmInfo, ...] | None = None  # made by the srpm stage of this run

    def need_lock(self) -> Lock:
        if self.lock is not None:
            return self.lock
        return lockmod.require(self.project.lock_file, self.release.catalog.mirrors)

    @property
    def catalog(self) -> Catalog:
        return self.release.catalog

    @property
    def chained(self) -> bool:
        """Run by ``all`` after resolve (packages the earlier stages could not prepare are
        skipped instead of failing)."""
        return self.lock is not None

    def after(self, result: StageResult) -> StageRun:
        """The run as the next stage sees it."""
        changes: dict[str, Any] = {}
        lock = getattr(result, "lock", None)
        if lock is not None:
            changes["lock"] = lock
        for name in ("unrendered", "uncached"):
            extra = getattr(result, name, None)
            if extra:
                changes[name] = {**getattr(self, name), **extra}
        srpms = getattr(result, "srpms", None)
        if srpms is not None:
            changes["srpms"] = tuple(srpms)
        return replace(self, **changes)


class StageResult(Protocol):
    """A dataclass (its --json form comes from infra.jsonout)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
