"""A policy's status on the days where it changes: the day it takes effect, the day it expires, the last day it
is "expiring"; and its lifecycle fields as citations carry them. (The table of ordinary cases is in
``tests/answering/test_lifecycle.py``.)"""

from __future__ import annotations

import datetime as dt

import pytest

from assistant.knowledge.lifecycle import EXPIRING_DAYS, lifecycle_meta, status_of

TODAY = dt.date(2026, 6, 1)


@pytest.mark.parametrize(("meta", "expected"), [
    ({"effective_from": "2026-06-01"}, "in_force"),                      # takes effect today
    ({"effective_from": "2026-06-02"}, "upcoming"),                      # tomorrow
    ({"expires": "2026-06-01"}, "expiring"),                             # its last day is today: still in force
    ({"expires": "2026-05-31"}, "expired"),                              # yesterday
    ({"expires": (TODAY + dt.timedelta(days=EXPIRING_DAYS)).isoformat()}, "expiring"),
    ({"expires": (TODAY + dt.timedelta(days=EXPIRING_DAYS + 1)).isoformat()}, "in_force"),
    ({"effective_from": dt.date(2026, 7, 1), "expires": dt.date(2027, 1, 1)}, "upcoming"),
    ({"status": "征求意见稿", "effective_from": "2020-01-01"}, "draft"),
    ({"status": "In Force"}, "in_force"),
    ({"status": "现行有效", "superseded_by": "新办法"}, "superseded"),    # a named replacement wins
    ({"status": "unknown words", "expires": "2025-01-01"}, "expired"),   # an unknown status: the dates decide
])
def test_status_on_the_days_it_changes(meta: dict[str, object], expected: str) -> None:
    assert status_of(meta, TODAY) == expected


def test_lifecycle_fields_travel_as_text_with_the_status() -> None:
    meta = {"effective_from": dt.date(2023, 1, 1), "expires": "2026-06-30", "superseded_by": "", "title": "x"}
    out = lifecycle_meta(meta, TODAY)
    assert out["lifecycle"] == "expiring"
    assert out["effective_from"] == "2023-01-01" and out["expires"] == "2026-06-30"
    assert "superseded_by" not in out and "title" not in out  # empty values and other fields stay out
