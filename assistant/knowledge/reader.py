"""The read side of a built index, for the query side: chunks, their neighbours, and term statistics.

:class:`IndexReader` wraps a :class:`~assistant.knowledge.indexing.LoadedIndex` and answers what the
answerers ask of the corpus — a chunk by id, the rest of the paragraph a chunk was cut from, the numbered
items beside it, how specific a term is — without touching the build machinery.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from assistant.data import Chunk
from assistant.knowledge.indexing import LoadedIndex

_ITEM_SECTION = re.compile(r"^[\d（(第]")


class IndexReader:
    """Read-only questions about a loaded index (see the module docstring)."""

    def __init__(self, index: LoadedIndex) -> None:
        self.index = index

    @property
    def chunks(self) -> list[Chunk]:
        return self.index.chunks

    @property
    def build_id(self) -> str | None:
        build = self.index.manifest.get("build_id")
        return None if build is None else str(build)

    def __len__(self) -> int:
        return len(self.index.chunks)

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self.index.chunk(chunk_id)

    # -- term statistics (over the chunks' own text) ---------------------------------------------------
    def idf(self, term: str) -> float:
        """How specific ``term`` is in the chunks' text (smoothed IDF; unseen terms get the maximum)."""
        return self.index.text_df.idf(term)

    def known(self, term: str) -> bool:
        """Does any chunk's text use ``term``?"""
        return term in self.index.text_df

    def vocabulary(self) -> list[str]:
        """Every word the chunks' text uses."""
        return list(self.index.text_df.df)

    def lexical_top(self, tokens: Sequence[str], k: int) -> list[tuple[Chunk, float]]:
        """The ``k`` best chunks for ``tokens`` by BM25."""
        return [(self.index.chunks[n], score) for n, score in self.index.bm25.top(list(tokens), k)]

    def sentences(self, chunk: Chunk) -> tuple[list[tuple[int, int]], np.ndarray]:
        """The spans (document offsets) of ``chunk``'s sentences and their unit vectors, from the build."""
        if self.index.sentences is None:
            return [], np.zeros((0, 0), dtype=np.float32)
        return self.index.sentences.of(chunk.id)

    # -- neighbours --------------------------------------------------------------------------------------
    def paragraph_before(self, chunk: Chunk, limit: int = 3) -> str:
        """The earlier chunks of the paragraph ``chunk`` was cut from (same section path, adjacent)."""
        i = self.index.by_id.get(chunk.id)
        parts: list[str] = []
        while i is not None and i > 0 and len(parts) < limit:
            prev = self.index.chunks[i - 1]
            if prev.source != chunk.source or prev.section != chunk.section:
                break
            parts.insert(0, prev.text)
            i -= 1
        return "\n".join(parts)

    def next_chunk(self, chunk: Chunk) -> Chunk | None:
        """The chunk after ``chunk`` when it continues the same part of the same document."""
        i = self.index.by_id.get(chunk.id)
        if i is None or i + 1 >= len(self.index.chunks):
            return None
        nxt = self.index.chunks[i + 1]
        return nxt if nxt.source == chunk.source and nxt.section[:-1] == chunk.section[:-1] else None

    def siblings(self, chunk: Chunk, limit: int = 8) -> list[Chunk]:
        """The numbered items around ``chunk`` in its section (``… › 1.``, ``… › 2.``), in order.

        Used to keep a list whole when it is spread over several chunks; a chunk that is no numbered item
        is its own only sibling.
        """
        return siblings(chunk, self.index.chunks, limit)


def siblings(chunk: Chunk, chunks: Sequence[Chunk], limit: int = 8) -> list[Chunk]:
    """:meth:`IndexReader.siblings` over any sequence of chunks in document order."""
    if len(chunk.section) < 2 or not _ITEM_SECTION.match(chunk.section[-1]):
        return [chunk]
    parent = chunk.section[:-1]
    same = [c for c in chunks if c.source == chunk.source and c.section[:-1] == parent
            and len(c.section) == len(chunk.section)]
    return same[:limit] if chunk in same else [chunk]
