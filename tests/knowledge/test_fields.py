"""Coded chunk fields: a filter's mask from integer codes equals the string comparison it replaces, is kept per
filter (and per day for a lifecycle status), and nothing outside can change a kept mask."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest

from assistant.data import Chunk, Filters
from assistant.knowledge import fields
from assistant.knowledge.fields import ChunkFields, Coded
from assistant.knowledge.lifecycle import status_of


def _chunks(n: int, seed: int = 3) -> list[Chunk]:
    rnd = random.Random(seed)
    metas = [{"kind": "policy", "scope": "深圳园区", "effective_from": "2024-01-01", "expires": "2026-06-30"},
             {"kind": "plan", "scope": "both", "effective_from": "2023-08-29"},
             {"kind": "notice", "scope": "香港园区", "status": "已废止"},
             {"kind": "policy", "expires": "2025-01-01"}, {}]
    return [Chunk(id=f"c{i}", source=f"d{rnd.randrange(20)}.md", text="t", start=0, end=1,
                  meta=dict(rnd.choice(metas))) for i in range(n)]


def test_coded_keep_matches_isin_and_ignores_values_no_chunk_has() -> None:
    values = [random.Random(i).choice("abcd") for i in range(500)]
    coded = Coded(values)
    for wanted in ({"a"}, {"b", "d"}, {"zz"}, set(), {"a", "zz"}):
        assert coded.keep(wanted).tolist() == np.isin(np.array(values, dtype=object), list(wanted)).tolist()
    assert coded.decoded().tolist() == values


@pytest.mark.parametrize("filters", [
    Filters(sources=("d3.md", "d7.md")), Filters(kinds=("policy",)), Filters(scopes=("香港园区",)),
    Filters(scopes=("深圳园区",)), Filters(statuses=("in_force",)), Filters(statuses=("expired", "superseded")),
    Filters(kinds=("policy",), scopes=("深圳园区",), statuses=("expiring",)), Filters(sources=("none.md",)),
])
def test_each_filter_keeps_exactly_the_chunks_it_names(filters: Filters) -> None:
    chunks = _chunks(2000)
    day = dt.date(2026, 5, 1)
    mask = ChunkFields(chunks).mask(filters, day)
    scopes = {s for s in filters.scopes} | ({"both"} if filters.scopes else set())
    statuses = set(filters.statuses) | ({"expiring"} if "in_force" in filters.statuses else set())
    expected = [(not filters.sources or c.source in filters.sources)
                and (not filters.kinds or c.meta.get("kind") in filters.kinds)
                and (not filters.scopes or c.meta.get("scope") in scopes)
                and (not filters.statuses or status_of(c.meta, day) in statuses) for c in chunks]
    assert mask.tolist() == expected
    assert 0 < sum(expected) < len(chunks) or filters.sources == ("none.md",)  # the filter really filters


def test_masks_are_kept_per_filter_and_day_and_the_oldest_go(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fields, "MASKS_KEPT", 2)
    f = ChunkFields(_chunks(300))
    day = dt.date(2026, 5, 1)
    a = f.mask(Filters(kinds=("plan",)), day)
    assert f.mask(Filters(kinds=("plan",)), dt.date(2020, 1, 1)) is a  # no status asked: the day does not matter
    assert not a.flags.writeable
    s1 = f.mask(Filters(statuses=("in_force",)), day)
    assert f.mask(Filters(statuses=("in_force",)), dt.date(2027, 1, 1)) is not s1  # a status: per day
    assert f.mask(Filters(kinds=("plan",)), day) is not a  # pushed out by the two after it
    assert f.statuses(dt.date(2026, 5, 1)).decoded().tolist() == [status_of(c.meta, day) for c in f.chunks]


def test_an_unknown_value_is_refused_and_not_kept() -> None:
    f = ChunkFields(_chunks(10))
    with pytest.raises(ValueError, match="unknown scope"):
        f.mask(Filters(scopes=("北京",)))
    with pytest.raises(ValueError, match="unknown status"):
        f.mask(Filters(statuses=("current",)))
