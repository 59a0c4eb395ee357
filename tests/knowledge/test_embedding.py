"""The embedding cache in front of an embedder."""

from __future__ import annotations

import numpy as np

from assistant.knowledge.embedding import CachedEmbedder
from assistant.testing import FakeEmbedder


def test_cached_embedder_gives_the_same_vectors_and_embeds_each_text_once() -> None:
    inner = FakeEmbedder()
    cached = CachedEmbedder(inner)
    texts = ["享受条件", "在园区工作", "享受条件"]
    first = cached.embed(texts, "query")
    np.testing.assert_array_equal(first, FakeEmbedder().embed(texts, "query"))
    assert inner.embedded_count == 2  # the repeated text once
    again = cached.embed(["在园区工作", "享受条件"], "query")
    np.testing.assert_array_equal(again, first[[1, 0]])
    assert inner.embedded_count == 2 and (cached.hits, cached.misses) == (3, 2)
    # The kind is part of the key: a passage vector is not a query vector.
    cached.embed(["享受条件"], "passage")
    assert inner.embedded_count == 3 and cached.name == inner.name


def test_cached_embedder_keeps_the_most_recently_used() -> None:
    inner = FakeEmbedder()
    cached = CachedEmbedder(inner, capacity=2)
    cached.embed(["甲", "乙"], "query")
    cached.embed(["甲"], "query")  # 甲 used last: 乙 is the one to go
    cached.embed(["丙"], "query")
    assert inner.embedded_count == 3
    cached.embed(["甲"], "query")
    assert inner.embedded_count == 3
    cached.embed(["乙"], "query")
    assert inner.embedded_count == 4
    assert cached.embed([], "query").shape[0] == 0
