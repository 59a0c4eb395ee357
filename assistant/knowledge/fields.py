"""Per-chunk metadata as integer codes, so that a filter is a table look-up rather than a string comparison.

A :class:`assistant.data.Filters` keeps chunks by document, kind, scope and lifecycle status on a day. Each of
these fields is coded once, when the index loads: a chunk's code indexes the field's distinct values, and a
filter on a field is ``wanted[codes]``, a boolean table of the distinct values indexed by every chunk's code
(about 0.1 ms at 100k chunks, where ``np.isin`` over the strings took ~30 ms). The masks of the last few
filters are kept, because a site asks the same filter again and again (only policies in force, only the
Hong Kong park). Lifecycle status depends on the day, so it is coded again when the date changes.

>>> from assistant.data import Chunk, Filters
>>> chunks = [Chunk(id=str(i), source=s, text="t", start=0, end=1, meta=m) for i, (s, m) in
...           enumerate([("a.md", {"scope": "香港园区"}), ("b.md", {"scope": "both"}), ("b.md", {})])]
>>> ChunkFields(chunks).mask(Filters(scopes=("香港园区",))).tolist()
[True, True, False]
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np

from assistant.data import Chunk, Filters
from assistant.knowledge.lifecycle import status_of, wanted_scopes, wanted_statuses

#: How many filters' masks are kept (each is one byte a chunk: 100 kB at 100k chunks).
MASKS_KEPT = 32
#: The fields a filter can name besides the lifecycle status, with how each is read from a chunk.
_FIELDS = {"source": lambda c: c.source, "kind": lambda c: str(c.meta.get("kind", "")),
           "scope": lambda c: str(c.meta.get("scope", ""))}
_LIFECYCLE_KEYS = ("status", "superseded_by", "effective_from", "expires")


class Coded:
    """One field of every chunk: ``codes[i]`` indexes ``values`` (the field's distinct values)."""

    def __init__(self, per_chunk: Iterable[str]) -> None:
        index: dict[str, int] = {}
        self.codes = np.fromiter((index.setdefault(v, len(index)) for v in per_chunk), dtype=np.int32)
        self.index = index
        self.values = np.array(list(index), dtype=object)

    def keep(self, wanted: Iterable[str]) -> np.ndarray:
        """True for each chunk whose value is one of ``wanted`` (values no chunk has keep nothing)."""
        table = np.zeros(len(self.index), dtype=bool)
        table[[self.index[v] for v in wanted if v in self.index]] = True
        return table[self.codes]

    def decoded(self) -> np.ndarray:
        """The values chunk by chunk (an object array of strings)."""
        return self.values[self.codes]


class ChunkFields:
    """The filterable fields of ``chunks``, coded once; :meth:`mask` for a filter (thread-safe, cached)."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = chunks
        self.fields = {key: Coded(read(c) for c in chunks) for key, read in _FIELDS.items()}
        self._status: tuple[dt.date, Coded] | None = None
        self._masks: OrderedDict[tuple[Filters, dt.date | None], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def statuses(self, today: dt.date | None = None) -> Coded:
        """Each chunk's lifecycle status on ``today`` (:func:`assistant.knowledge.lifecycle.status_of`), coded;
        worked out once a day, once a section (chunks of one section share their metadata)."""
        today = today or dt.date.today()
        found = self._status
        if found is None or found[0] != today:
            memo: dict[tuple[str, ...], str] = {}

            def status(c: Chunk) -> str:
                key = tuple(str(c.meta.get(k, "")) for k in _LIFECYCLE_KEYS)
                if key not in memo:
                    memo[key] = status_of(c.meta, today)
                return memo[key]

            found = self._status = (today, Coded(status(c) for c in self.chunks))
        return found[1]

    def mask(self, filters: Filters, today: dt.date | None = None) -> np.ndarray:
        """Boolean mask (read-only) over the chunks that ``filters`` keeps; lifecycle statuses are those on
        ``today``. ValueError names an unknown status or scope."""
        today = today or dt.date.today()
        key = (filters, today if filters.statuses else None)
        with self._lock:
            if key in self._masks:
                self._masks.move_to_end(key)
                return self._masks[key]
        keep = np.ones(len(self.chunks), dtype=bool)
        if filters.sources:
            keep &= self.fields["source"].keep(filters.sources)
        if filters.kinds:
            keep &= self.fields["kind"].keep(filters.kinds)
        if filters.scopes:
            keep &= self.fields["scope"].keep(wanted_scopes(filters.scopes))
        if filters.statuses:
            keep &= self.statuses(today).keep(wanted_statuses(filters.statuses))
        keep.flags.writeable = False  # shared by every search with this filter
        with self._lock:
            self._masks[key] = keep
            while len(self._masks) > MASKS_KEPT:
                self._masks.popitem(last=False)
        return keep
