"""The changelog history (changelog.json in the project): one list of entries per package,
newest first, that render puts into each spec's %changelog.

An entry is added, never rewritten: the first one (the original version, dated with the upstream
tag's commit time), one per new version (``bump``), one per raised ``release`` (as
``rpmdev-bumpspec`` does). Dates never come from the wall clock: ``SOURCE_DATE_EPOCH`` or a date
the user gives, else a date derived from the inputs (the tag's commit time, the previous entry's
date), so the same inputs give the same bytes. Dates never go backwards: rpm refuses a %changelog
that is not in descending chronological order.
"""

from __future__ import annotations

import calendar
import json
import os
import time
from pathlib import Path
from typing import Any

from emtk3s.infra.errors import InputError
from emtk3s.infra.fsutil import write_if_changed

CHANGELOG_FILE = "changelog.json"
DATE_FORMAT = "%a %b %d %Y"
#: the exact attribution line EMT's check_spec_guidelines.py accepts for an original spec
ATTRIBUTION = "Original version for Edge Microvisor Toolkit."
LICENSE_VERIFIED = "License verified."

Entry = dict[str, Any]
History = dict[str, list[Entry]]


def load_history(project_root: Path) -> History:
    path = project_root / CHANGELOG_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise InputError(f"{path}: not valid JSON", "restore it from git") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise InputError(f"{path}: not a map of package -> list of entries", "restore it from git")
    for pkg, entries in data.items():
        for e in entries:
            if not isinstance(e, dict) or not {"date", "author", "email", "evr", "lines"} <= set(e):
                raise InputError(
                    f"{path}: {pkg}: an entry lacks date/author/email/evr/lines",
                    "restore it from git",
                )
            parse_date(e["date"], f"{path}: {pkg} {e['evr']}")
    return data


def save_history(project_root: Path, history: History) -> bool:
    text = json.dumps(history, indent=2, sort_keys=True) + "\n"
    return write_if_changed(project_root / CHANGELOG_FILE, text.encode())


def format_date(epoch: int) -> str:
    return time.strftime(DATE_FORMAT, time.gmtime(epoch))


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_date(text: str, where: str = "changelog date") -> int:
    """The epoch of a changelog date (DATE_FORMAT in the C locale), read without
    ``time.strptime``: every run reads the history, and strptime's import and pattern
    compilation cost a no-op more than the rest of the parse."""
    parts = text.split(" ") if isinstance(text, str) else []
    try:
        day_name, month, day, year = parts
        if day_name not in _DAYS or len(day) > 2 or len(year) != 4:
            raise ValueError(text)
        epoch = calendar.timegm((int(year), _MONTHS.index(month) + 1, int(day), 0, 0, 0))
        if format_date(epoch) != text.replace(f" {day} ", f" {int(day):02d} "):
            raise ValueError(text)  # a day the month does not have
        return epoch
    except ValueError:
        raise InputError(
            f"{where}: {text!r} is not a changelog date like 'Mon May 02 2022'", ""
        ) from None


#: The latest time an RPM can carry: its header stores BUILDTIME and changelog times as 32-bit
#: unsigned seconds (2106-02-07 06:28:15 UTC). A later SOURCE_DATE_EPOCH, ``--date`` or commit
#: time is refused: rpm would wrap it, and a changelog dated in year 5138 is a typo, not a date.
#: The rule does not depend on the host clock, so the same input is judged the same anywhere.
MAX_EPOCH = (1 << 32) - 1


def check_epoch(value: int, what: str) -> int:
    if not 0 <= value <= MAX_EPOCH:
        raise InputError(
            f"{what} {value} is not a time an RPM can hold (0 to {MAX_EPOCH}, 2106-02-07)",
            "use the seconds since 1970 of a real date",
        )
    return value


def user_epoch(date: str | None = None) -> int | None:
    """The date the user chose: ``--date YYYY-MM-DD`` first, then ``SOURCE_DATE_EPOCH``."""
    if date:
        try:
            when = calendar.timegm(time.strptime(date, "%Y-%m-%d"))
        except ValueError:
            raise InputError(
                f"--date {date!r} is not YYYY-MM-DD", "e.g. --date 2025-06-17"
            ) from None
        return check_epoch(when, f"--date {date}:")
    sde = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if sde:
        if not sde.isascii() or not sde.isdigit() or len(sde) > 20:
            raise InputError(
                f"SOURCE_DATE_EPOCH={sde[:40]!r} is not a number of seconds",
                "unset it or fix it",
            )
        return check_epoch(int(sde), "SOURCE_DATE_EPOCH")
    return None


def _version(evr: str) -> str:
    return evr.rsplit("-", 1)[0]


def _not_before(epoch: int, entries: list[Entry]) -> int:
    """rpm wants descending dates: a new entry is never older than the newest one."""
    if not entries:
        return epoch
    return max(epoch, parse_date(entries[0]["date"]))


def entries_for(
    history: list[Entry],
    *,
    evr: str,
    author: str,
    email: str,
    repo: str,
    tag: str,
    commit_time: int,
    epoch: int | None = None,
    license_line: str | None = None,
) -> tuple[list[Entry], bool]:
    """The entries for a package at ``evr`` (newest first) and whether a new one was added.

    Present already: the history from that entry on. Otherwise a new entry leads: the original
    version (empty history), an update to a new version, or a rebuild for a raised release.
    """
    for i, e in enumerate(history):
        if e.get("evr") == evr:
            return history[i:], False
    entry: Entry = {"author": author, "email": email, "evr": evr}
    if not history:
        entry["date"] = format_date(commit_time)  # the input's own date: same bytes anywhere
        entry["lines"] = [ATTRIBUTION, f"Built from {repo} {tag}."]
        if license_line:
            entry["lines"].append(license_line)
    elif _version(history[0]["evr"]) != _version(evr):
        when = _not_before(epoch if epoch is not None else commit_time, history)
        entry["date"] = format_date(when)
        entry["lines"] = [f"Update to {_version(evr)} ({repo} {tag})."]
        if license_line:
            entry["lines"].append(license_line)
    else:
        when = _not_before(epoch if epoch is not None else 0, history)
        entry["date"] = format_date(when)
        entry["lines"] = [f"Bump release to {evr.rsplit('-', 1)[1]}."]
    return [entry, *history], True
