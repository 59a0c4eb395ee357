"""Sentence vectors: built with the index, reused for unchanged chunks, read back by chunk id."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.data import Chunk
from assistant.knowledge.indexing import load_index
from assistant.knowledge.sentences import SentenceVectors, embed_text, sentence_spans
from assistant.testing import FakeEmbedder
from assistant.wiring import build_client, build_indexer


def _chunk(text: str, start: int = 0, source: str = "a.md") -> Chunk:
    section = ("甲", "一、总则")
    return Chunk(Chunk.make_id(source, text, section), source, text, start, start + len(text), section, {})


def test_build_embeds_each_sentence_with_its_heading_and_reuses_unchanged_chunks(tmp_path: Path) -> None:
    a, b = _chunk("合作区约3.89平方公里。深圳园区3.02平方公里。"), _chunk("園區實行分線管理。", start=40)
    embedder = FakeEmbedder()
    first = SentenceVectors.build([a, b], embedder)
    assert len(first) == 3 and embedder.embedded_count == 3
    spans, vectors = first.of(a.id)
    assert spans == sentence_spans(a) == [(0, 13), (13, 26)] and vectors.shape == (2, FakeEmbedder.dim)
    assert embed_text(b, 40, 49) == "一、总则\n园区实行分线管理。"  # heading first, folded to Simplified
    assert np.allclose(first.of(b.id)[1][0], embedder.embed([embed_text(b, 40, 49)], "passage")[0])
    unknown_spans, unknown_vectors = first.of("unknown")
    assert unknown_spans == [] and unknown_vectors.shape == (0, FakeEmbedder.dim)

    c = _chunk("新的一句。", start=80)
    again = SentenceVectors.build([a, c], embedder, previous=first)
    assert embedder.embedded_count == 3 + 1 + 1  # only c's sentence is new (the +1 above: the check embed)
    assert np.array_equal(again.of(a.id)[1], first.of(a.id)[1])

    first.save(tmp_path)
    loaded = SentenceVectors.load(tmp_path)
    assert loaded is not None and np.array_equal(loaded.vectors, first.vectors) and loaded.of(a.id)[0] == spans
    assert SentenceVectors.load(tmp_path / "nowhere") is None


def test_index_build_stores_sentence_vectors_for_every_chunk(tiny_settings: Settings) -> None:
    build_indexer(tiny_settings, FakeEmbedder()).build()
    index = load_index(tiny_settings.index_dir, build_client(tiny_settings))
    assert index.sentences is not None
    for chunk in index.chunks:
        spans, vectors = index.sentences.of(chunk.id)
        assert spans == sentence_spans(chunk) and len(vectors) == len(spans)
