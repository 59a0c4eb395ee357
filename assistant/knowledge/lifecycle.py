"""A policy's lifecycle: its status on a given day, from its metadata (front matter or a section's ``<!-- meta``).

The one place that decides whether a policy is in force. An explicit ``superseded_by`` or a declared status
(``draft``, ``superseded``, ``expired``, also in Chinese) wins; otherwise the dates decide against ``today``:

==============  ==============================================================================
``draft``       declared draft (征求意见稿, 草案)
``superseded``  ``superseded_by`` is set, or declared superseded (已废止, 已被替代)
``expired``     ``expires`` is before today, or declared expired (已失效)
``upcoming``    ``effective_from`` is after today
``expiring``    in force, and ``expires`` is within :data:`EXPIRING_DAYS` days
``in_force``    ``effective_from`` passed or ``expires`` ahead, or declared in force (现行有效)
``undated``     nothing says: no dates and no declared status
==============  ==============================================================================

A filter on ``in_force`` also keeps ``expiring`` policies (they are still in force).

>>> status_of({"effective_from": "2023-01-01", "expires": "2027-12-31"}, dt.date(2026, 1, 1))
'in_force'
>>> status_of({"expires": "2027-12-31"}, dt.date(2027, 11, 1))
'expiring'
>>> status_of({"expires": "2025-12-31"}, dt.date(2026, 1, 1))
'expired'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from assistant.data import LIFECYCLE_CITATION_KEYS

#: Every status :func:`status_of` returns.
STATUSES = ("in_force", "expiring", "expired", "superseded", "upcoming", "draft", "undated")
#: A policy whose ``expires`` is at most this many days ahead is ``expiring``.
EXPIRING_DAYS = 90
#: Declared ``status`` values (lower-cased, as editors write them) and the status they mean.
_DECLARED = {
    "draft": "draft", "草案": "draft", "征求意见稿": "draft",
    "superseded": "superseded", "已废止": "superseded", "废止": "superseded", "已被替代": "superseded",
    "expired": "expired", "已失效": "expired", "失效": "expired",
    "in force": "in_force", "in_force": "in_force", "现行有效": "in_force", "有效": "in_force",
}
#: Scope values; ``both`` covers either park.
SCOPES = ("深圳园区", "香港园区", "both")


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10]) if value else None
    except ValueError:
        return None


def status_of(meta: Mapping[str, Any], today: dt.date | None = None) -> str:
    """The lifecycle status (one of :data:`STATUSES`) of a document or section with metadata ``meta``."""
    today = today or dt.date.today()
    if meta.get("superseded_by"):
        return "superseded"
    declared = _DECLARED.get(str(meta.get("status") or "").strip().lower())
    if declared in ("draft", "superseded", "expired"):
        return declared
    start, end = _date(meta.get("effective_from")), _date(meta.get("expires"))
    if end is not None and end < today:
        return "expired"
    if start is not None and start > today:
        return "upcoming"
    if end is not None and (end - today).days <= EXPIRING_DAYS:
        return "expiring"
    if start is not None or end is not None or declared == "in_force":
        return "in_force"
    return "undated"


def wanted_statuses(statuses: Iterable[str]) -> set[str]:
    """The statuses a filter on ``statuses`` keeps (``in_force`` keeps ``expiring`` too); ValueError on an
    unknown one, naming the known ones."""
    out: set[str] = set()
    for s in statuses:
        key = _DECLARED.get(s.strip().lower(), s.strip().lower().replace(" ", "_").replace("-", "_"))
        if key not in STATUSES:
            raise ValueError(f"unknown status {s!r}; known: {', '.join(STATUSES)}")
        out.add(key)
    if "in_force" in out:
        out.add("expiring")
    return out


def wanted_scopes(scopes: Iterable[str]) -> set[str]:
    """The scope values a filter on ``scopes`` keeps (a park also keeps ``both``); ValueError on an unknown one."""
    out: set[str] = set()
    for s in scopes:
        if s not in SCOPES:
            raise ValueError(f"unknown scope {s!r}; known: {', '.join(SCOPES)}")
        out |= {s, "both"}
    return out


def lifecycle_meta(meta: Mapping[str, Any], today: dt.date | None = None) -> dict[str, str]:
    """The lifecycle fields of ``meta`` as strings, with the derived ``lifecycle`` status (for citations)."""
    out = {k: (v.isoformat() if isinstance(v, dt.date) else str(v)) for k in LIFECYCLE_CITATION_KEYS
           if (v := meta.get(k)) not in (None, "")}
    out["lifecycle"] = status_of(meta, today)
    return out
