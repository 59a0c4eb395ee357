"""The read side of the index: chunks, neighbours (paragraph, next chunk, list siblings) and term IDF."""

from __future__ import annotations

import itertools

from assistant.config import Settings
from assistant.knowledge.indexing import load_index
from assistant.knowledge.reader import IndexReader
from assistant.testing import FakeEmbedder
from assistant.wiring import build_client, build_indexer


def _reader(settings: Settings) -> IndexReader:
    build_indexer(settings, FakeEmbedder()).build()
    return IndexReader(load_index(settings.index_dir, build_client(settings)))


def test_reader_over_a_built_index(tiny_settings: Settings) -> None:
    reader = _reader(tiny_settings)
    chunks = reader.chunks
    assert len(reader) == len(chunks) > 10 and reader.build_id
    assert reader.chunk(chunks[3].id) == chunks[3] and reader.chunk("nope") is None

    # IDF: a term in many chunks weighs less than a rare one; an unseen one weighs most.
    assert reader.known("合作区") and not reader.known("火星基地")
    assert reader.idf("合作区") < reader.idf("皇岗口岸") < reader.idf("火星基地")

    # Neighbours: the next chunk continues the same part of the same document, never another document.
    for a, b in itertools.pairwise(chunks):
        nxt = reader.next_chunk(a)
        if a.source != b.source:
            assert nxt is None
        if nxt is not None:
            assert nxt == b and nxt.section[:-1] == a.section[:-1]
    assert reader.next_chunk(chunks[-1]) is None

    # A paragraph cut in several chunks: each later chunk sees the earlier ones of the same section.
    for i in range(1, len(chunks)):
        before = reader.paragraph_before(chunks[i])
        same = chunks[i - 1].source == chunks[i].source and chunks[i - 1].section == chunks[i].section
        assert bool(before) == same
        if same:
            assert before.endswith(chunks[i - 1].text)

    # Lists: a numbered item's siblings share its parent section; a chunk that is no item stands alone.
    items = [c for c in chunks if len(c.section) >= 2 and c.section[-1][:1].isdigit()]
    assert items
    group = reader.siblings(items[0])
    assert items[0] in group and all(c.section[:-1] == items[0].section[:-1] for c in group)
    plain = next(c for c in chunks if c not in items and c.section[-1][:1] not in "（(第")
    assert reader.siblings(plain) == [plain]

    # BM25 look-up over the same chunks.
    top = reader.lexical_top(["口岸"], 3)
    assert top and all("口岸" in c.text or "口岸" in c.section_path for c, _ in top)
