"""HTTPS downloads into the cache, in four parts: ``transport`` (one GET into a partial file:
redirects, If-Range resume, hashing), ``policy`` (redirect hops, size cap, deadlines),
``errors`` (what a failure means, by exception type) and ``fetcher`` (the cache, the lock per
download, retries, parallel fetches). Progress is shown by :mod:`emtk3s.infra.progress`."""

from emtk3s.infra.http.errors import Unreachable
from emtk3s.infra.http.fetcher import Fetched, fetch_many, fetch_one
from emtk3s.infra.http.policy import (
    MAX_ENV,
    MAX_REDIRECTS,
    Policy,
    deadline_from_env,
    max_unpinned_from_env,
)
from emtk3s.infra.http.transport import Download

__all__ = [
    "MAX_ENV",
    "MAX_REDIRECTS",
    "Download",
    "Fetched",
    "Policy",
    "Unreachable",
    "deadline_from_env",
    "fetch_many",
    "fetch_one",
    "max_unpinned_from_env",
]
