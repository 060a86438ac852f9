"""Whether a package of the lock is ready for the next stage: facts about the lock that render,
srpm and emt integrate all ask (an unverified upstream tag, a source not pinned yet)."""

from __future__ import annotations

from emtk3s.infra.errors import IntegrityError
from emtk3s.model.lock import Lock
from emtk3s.model.package import Catalog

#: what SPECS/ shows for a source that can only be pinned with network (a generated file)
PENDING = "PENDING"


def pending_sources(lock: Lock, pkg: str, catalog: Catalog) -> list[str]:
    """Generated sources of ``pkg`` not pinned yet: rendered as PENDING; srpm and emt
    integrate refuse the package until `emtk3s fetch` (or `vendor`) pins them."""
    plock = lock.packages[pkg]
    pdef = catalog.packages.get(pkg)
    comp = lock.components.get(plock.component)
    if pdef is None or comp is None:
        return []
    out = []
    for s in plock.sources:
        rule = pdef.rule_for(s.name, comp) if s.generated and not s.pinned else None
        if rule is not None and rule.may_be_pending:
            out.append(s.name)
        elif s.sha256 is None and s.sha512 is not None:
            # pinned by the upstream's sha512 only (e.g. GNU tarballs' sums): fetch
            # verifies it and records the sha256
            out.append(s.name)
    return out


def refuse_pending(lock: Lock, pkg: str, what: str, catalog: Catalog) -> None:
    if pkg in lock.packages and pending_sources(lock, pkg, catalog):
        name = pending_sources(lock, pkg, catalog)[0]
        raise IntegrityError(
            f"{what}: {pkg}'s source {name} is {PENDING} (generated, not pinned in the lock)",
            "run emtk3s fetch (or emtk3s vendor) where the module proxy is reachable, then render",
        )


def not_renderable(lock: Lock, pkg: str, catalog: Catalog) -> str:
    """Why a package of the lock cannot be rendered yet ("" when it can)."""
    plock = lock.packages[pkg]
    unverified = [
        c.tag
        for n, c in lock.components.items()
        if n == plock.component and (c.commit is None or c.commit_time is None)
    ]
    if unverified:
        return f"upstream tag {unverified[0]} not verified (run emtk3s resolve --refresh)"
    pending = pending_sources(lock, pkg, catalog)
    unpinned = [s.name for s in plock.sources if s.sha256 is None and s.name not in pending]
    if unpinned:
        return f"source {unpinned[0]} not pinned (run emtk3s fetch)"
    return ""
