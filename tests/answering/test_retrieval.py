"""Hybrid retrieval over a real built index (real chunking, chroma, BM25) embedded with the FakeEmbedder:
filters on both retrievers, the LangChain adapters, timings and the English glossary expansion."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from langchain_core.documents import Document as LCDocument

from assistant.answering.retrieval import Glossary, HybridRetriever, SearchResult, filter_mask
from assistant.config import Settings
from assistant.data import Filters
from assistant.knowledge.indexing import LoadedIndex
from assistant.knowledge.ingest import load_document
from assistant.knowledge.lifecycle import status_of, wanted_scopes, wanted_statuses
from assistant.langchain_adapters import LangChainEmbeddings, ParkRetriever
from assistant.testing import FakeEmbedder
from assistant.wiring import build_indexer, build_retriever

AREA_ZH = "河套合作区总面积有多大？"
AREA_EN = "How large is the zone in total?"

# A third document with kind/status front matter; the two tiny sources get theirs added below.
OLD_NOTICE = """---
title: 河套合作区旧版入驻须知（已废止）
kind: notice
status: expired
---

# 河套合作区旧版入驻须知（已废止）

## 一、说明

1. 本须知曾介绍合作区面积和入驻条件，已于2024年废止，合作区总面积等数据以国务院规划为准，不再在此重复。
2. 咨询渠道：请查阅河套发展署官网的最新通知，旧版须知中的电话和邮箱均已停用，请勿再使用。
"""


def _add_front_matter(path: Path, **fields: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    extra = "".join(f"{k}: {v}\n" for k, v in fields.items())
    path.write_text("---\n" + extra + text[4:], encoding="utf-8")


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def settings(tiny_settings: Settings, embedder: FakeEmbedder) -> Settings:
    src = tiny_settings.sources
    _add_front_matter(src / "plan-excerpt.md", kind="plan", effective_from="2023-08-29", scope="深圳园区")
    _add_front_matter(src / "policy-excerpt.md", kind="policy", effective_from="2024-01-01", scope="both")
    (src / "old-notice.md").write_text(OLD_NOTICE, encoding="utf-8")
    report = build_indexer(tiny_settings, embedder=embedder).build()
    assert report.documents == 3 and not report.skipped
    return tiny_settings


@pytest.fixture
def retriever(settings: Settings, embedder: FakeEmbedder) -> HybridRetriever:
    return build_retriever(settings, embedder=embedder)


def sources_of(result: SearchResult) -> set[str]:
    return {p.chunk.source for p in result.passages}


# ------------------------------------------------------------------------------------------------ filters


def test_unfiltered_search_finds_the_area_passage(retriever: HybridRetriever) -> None:
    result = retriever.search(AREA_ZH, k=5)
    assert "3.89平方公里" in result.passages[0].text
    assert len(result.passages) == 5
    scores = [p.score for p in result.passages]
    assert scores == sorted(scores, reverse=True)
    assert len({p.id for p in result.passages}) == 5


def test_source_filter_restricts_both_retrievers(retriever: HybridRetriever) -> None:
    for sources in (("policy-excerpt.md",), ("old-notice.md", "policy-excerpt.md")):
        result = retriever.search(AREA_ZH, k=8, filters=Filters(sources=sources))
        assert result.passages and sources_of(result) <= set(sources)
        # The dense side was filtered in chroma too: nothing it nominated is from another document.
        assert any(p.dense_rank is not None for p in result.passages)
    only_plan = retriever.search("个人所得税", k=8, filters=Filters(sources=("plan-excerpt.md",)))
    assert sources_of(only_plan) == {"plan-excerpt.md"}


@pytest.mark.parametrize("filters", [Filters(sources=("policy-excerpt.md",)), Filters(statuses=("expired",)),
                                     Filters(scopes=("香港园区",))])
def test_dense_side_honours_the_filter(retriever: HybridRetriever, embedder: FakeEmbedder, filters: Filters) -> None:
    vector = embedder.embed([AREA_ZH], "query")[0]
    mask = filter_mask(filters, retriever.index)
    for brute_force_max in (0, 10_000):  # over-fetch-and-mask, and exact scoring of the kept chunks
        retriever.brute_force_max = brute_force_max
        hits = retriever._dense(vector, mask)
        assert hits and all(mask[retriever.index.by_id[i]] for i, _ in hits)
        sims = [s for _, s in hits]
        assert sims == sorted(sims, reverse=True)


def test_exact_and_over_fetched_dense_agree(retriever: HybridRetriever, embedder: FakeEmbedder) -> None:
    vector = embedder.embed([AREA_ZH], "query")[0]
    mask = filter_mask(Filters(kinds=("policy", "plan")), retriever.index)
    exact = retriever._dense(vector, mask)
    retriever.brute_force_max = 0
    fetched = retriever._dense(vector, mask)
    assert [i for i, _ in exact[:5]] == [i for i, _ in fetched[:5]]
    assert [s for _, s in exact[:5]] == pytest.approx([s for _, s in fetched[:5]], abs=1e-4)


@pytest.mark.parametrize(("filters", "expected"), [
    (Filters(kinds=("notice",)), {"old-notice.md"}),
    (Filters(statuses=("expired",)), {"old-notice.md"}),
    (Filters(statuses=("in_force",)), {"plan-excerpt.md", "policy-excerpt.md"}),
    (Filters(statuses=("现行有效",)), {"plan-excerpt.md", "policy-excerpt.md"}),
    (Filters(kinds=("policy", "plan")), {"plan-excerpt.md", "policy-excerpt.md"}),
    (Filters(kinds=("policy",), statuses=("in_force",)), {"policy-excerpt.md"}),
    (Filters(kinds=("notice",), statuses=("in_force",)), set()),
    (Filters(scopes=("深圳园区",)), {"plan-excerpt.md", "policy-excerpt.md"}),  # a park keeps "both" too
    (Filters(scopes=("香港园区",)), {"policy-excerpt.md"}),
    (Filters(scopes=("both",), statuses=("expired",)), set()),
])
def test_kind_status_and_scope_filters(retriever: HybridRetriever, filters: Filters, expected: set[str]) -> None:
    result = retriever.search("合作区面积 河套发展署 咨询", k=20, filters=filters)
    assert sources_of(result) == expected
    mask = filter_mask(filters, retriever.index)
    assert all(mask[retriever.index.by_id[p.id]] for p in result.passages)


def _mask_by_strings(filters: Filters, index: LoadedIndex, today: dt.date) -> np.ndarray:
    """The filter as it was first written (``np.isin`` over per-chunk strings): the reference the coded,
    cached masks must equal."""
    keep = np.ones(len(index.chunks), dtype=bool)
    per_chunk = {"source": [c.source for c in index.chunks],
                 "kind": [str(c.meta.get("kind", "")) for c in index.chunks],
                 "scope": [str(c.meta.get("scope", "")) for c in index.chunks]}
    for key, values in (("source", filters.sources), ("kind", filters.kinds)):
        if values:
            keep &= np.isin(np.array(per_chunk[key], dtype=object), list(values))
    if filters.statuses:
        statuses = np.array([status_of(c.meta, today) for c in index.chunks], dtype=object)
        keep &= np.isin(statuses, list(wanted_statuses(filters.statuses)))
    if filters.scopes:
        keep &= np.isin(np.array(per_chunk["scope"], dtype=object), list(wanted_scopes(filters.scopes)))
    return keep


SAME_AS_BEFORE = [Filters(sources=("policy-excerpt.md",)), Filters(sources=("old-notice.md", "plan-excerpt.md")),
                  Filters(kinds=("notice", "plan")), Filters(statuses=("in_force",)), Filters(statuses=("expired",)),
                  Filters(scopes=("香港园区",)), Filters(scopes=("深圳园区",), statuses=("in_force",)),
                  Filters(sources=("nope.md",)), Filters(kinds=("policy",), scopes=("both",))]


@pytest.mark.parametrize("filters", SAME_AS_BEFORE)
@pytest.mark.parametrize("brute_force_max", [0, 10_000])
def test_filtered_search_returns_what_the_string_filter_returned(
        retriever: HybridRetriever, filters: Filters, brute_force_max: int, monkeypatch: pytest.MonkeyPatch) -> None:
    retriever.brute_force_max = brute_force_max
    today = dt.date.today()
    assert filter_mask(filters, retriever.index).tolist() == _mask_by_strings(filters, retriever.index, today).tolist()
    questions = (AREA_ZH, AREA_EN, "个人所得税 香港居民", "河套发展署 咨询")
    coded = [retriever.search(q, k=6, filters=filters) for q in questions]
    monkeypatch.setattr(retriever.index.fields, "mask", lambda f, day=None: _mask_by_strings(f, retriever.index, today))
    by_strings = [retriever.search(q, k=6, filters=filters) for q in questions]
    for a, b in zip(coded, by_strings, strict=True):
        assert [(p.id, p.score, p.dense_rank, p.lexical_rank) for p in a.passages] == \
               [(p.id, p.score, p.dense_rank, p.lexical_rank) for p in b.passages]


def test_a_filters_mask_is_made_once_and_cannot_be_changed(retriever: HybridRetriever) -> None:
    f = Filters(scopes=("香港园区",), statuses=("in_force",))
    first = filter_mask(f, retriever.index)
    assert filter_mask(Filters(scopes=("香港园区",), statuses=("in_force",)), retriever.index) is first  # cached
    with pytest.raises(ValueError, match="read-only"):
        first[0] = not first[0]
    assert filter_mask(f, retriever.index, dt.date(2023, 6, 1)) is not first  # another day: worked out again


def test_status_is_derived_against_the_day_of_the_search(retriever: HybridRetriever) -> None:
    policy = Filters(sources=("policy-excerpt.md",), statuses=("in_force",))
    assert filter_mask(policy, retriever.index, dt.date(2026, 1, 1)).any()
    assert not filter_mask(policy, retriever.index, dt.date(2023, 6, 1)).any()  # not yet in force then
    upcoming = Filters(sources=("policy-excerpt.md",), statuses=("upcoming",))
    assert filter_mask(upcoming, retriever.index, dt.date(2023, 6, 1)).any()


def test_unknown_status_or_scope_is_a_clear_error(retriever: HybridRetriever) -> None:
    with pytest.raises(ValueError, match="unknown status 'current'; known: in_force"):
        retriever.search(AREA_ZH, filters=Filters(statuses=("current",)))
    with pytest.raises(ValueError, match="unknown scope '北京'"):
        retriever.search(AREA_ZH, filters=Filters(scopes=("北京",)))
    assert not Filters() and Filters(scopes=("both",))


# ----------------------------------------------------------------------------------------------- LangChain


def test_park_retriever_returns_langchain_documents(retriever: HybridRetriever, settings: Settings) -> None:
    lc = ParkRetriever(retriever=retriever, k=3)
    docs = lc.invoke(AREA_ZH)
    assert len(docs) == 3 and all(isinstance(d, LCDocument) for d in docs)
    top = docs[0]
    assert "3.89平方公里" in top.page_content
    assert {"id", "source", "section", "start", "end", "score", "title"} <= set(top.metadata)
    assert top.id == top.metadata["id"]
    assert top.metadata["source"] == "plan-excerpt.md"
    assert top.metadata["section"].endswith("一、序言与规划背景 › 6.")
    # start/end locate the quote in the source document's body.
    body = load_document(settings.sources / "plan-excerpt.md", settings.sources).text
    assert body[top.metadata["start"]:top.metadata["end"]] == top.page_content
    assert [d.metadata["score"] for d in docs] == sorted((d.metadata["score"] for d in docs), reverse=True)

    assert len(ParkRetriever(retriever=retriever, k=1).invoke(AREA_ZH)) == 1
    assert len(ParkRetriever(retriever=retriever, k=7).invoke(AREA_ZH)) == 7
    async_docs = asyncio.run(lc.ainvoke(AREA_ZH))
    assert [d.id for d in async_docs] == [d.id for d in docs]


def test_park_retriever_applies_filters(retriever: HybridRetriever) -> None:
    lc = ParkRetriever(retriever=retriever, k=5, filters={"sources": ["policy-excerpt.md"]})
    docs = lc.invoke(AREA_ZH)
    assert docs and {d.metadata["source"] for d in docs} == {"policy-excerpt.md"}
    notice = ParkRetriever(retriever=retriever, k=5, filters={"kinds": ["notice"]}).invoke(AREA_ZH)
    assert notice and {d.metadata["kind"] for d in notice} == {"notice"}


def test_langchain_embeddings_with_the_fake(embedder: FakeEmbedder) -> None:
    lc = LangChainEmbeddings(embedder)
    texts = ["河套深港科技创新合作区", "深圳园区面积", "Hetao"]
    docs = lc.embed_documents(texts)
    assert len(docs) == 3 and all(len(v) == FakeEmbedder.dim for v in docs)
    assert all(isinstance(x, float) for x in docs[0])
    np.testing.assert_allclose(docs, FakeEmbedder().embed(texts, "passage"), atol=1e-6)
    query = lc.embed_query("深圳园区面积")
    assert len(query) == FakeEmbedder.dim
    assert embedder.calls == [("passage", 3), ("query", 1)]
    assert lc.embed_documents([]) == []


def test_langchain_embeddings_plug_into_langchain_chroma(tmp_path: Path, embedder: FakeEmbedder) -> None:
    """What the adapter is for: someone else's LangChain vector store, embedding with our Embedder."""
    from langchain_chroma import Chroma

    store = Chroma(collection_name="lc_test", embedding_function=LangChainEmbeddings(embedder),
                   persist_directory=str(tmp_path / "lc"), collection_metadata={"hnsw:space": "cosine"})
    store.add_texts(["合作区共约3.89平方公里", "个人所得税税负差额免征", "福田口岸和皇岗口岸"],
                    ids=["area", "tax", "ports"])
    hits = store.similarity_search("合作区面积平方公里", k=1)
    assert [h.id for h in hits] == ["area"]
    assert ("passage", 3) in embedder.calls and ("query", 1) in embedder.calls


# ------------------------------------------------------------------------------------ timings, expansion


def test_search_result_reports_timings(retriever: HybridRetriever) -> None:
    result = retriever.search(AREA_ZH, k=3)
    parts = ("embed_query", "dense", "lexical", "fuse")
    assert set(result.timings_ms) == {*parts, "total"}
    assert all(result.timings_ms[p] >= 0 for p in parts)
    assert result.timings_ms["total"] >= sum(result.timings_ms[p] for p in parts) - 1.0
    assert result.timings_ms["total"] < 10_000


def test_english_question_is_expanded_with_the_glossary(retriever: HybridRetriever,
                                                        embedder: FakeEmbedder) -> None:
    calls = len(embedder.calls)
    result = retriever.search(AREA_EN, k=3)
    assert "面积" in result.expansion and "平方公里" in result.expansion
    assert result.query.startswith(AREA_EN) and all(t in result.query for t in result.expansion)
    # Two query vectors: the question with its terms, and the Chinese terms alone.
    assert embedder.calls[calls:] == [("query", 1), ("query", 1)]
    assert "3.89平方公里" in result.passages[0].text


def test_glossary_file_is_what_drives_expansion(settings: Settings, embedder: FakeEmbedder,
                                                retriever: HybridRetriever) -> None:
    plain = HybridRetriever(retriever.index, embedder, Glossary())
    assert plain.search(AREA_EN, k=3).expansion == ()
    own = settings.index_dir / "mine.tsv"
    own.write_text("# english<TAB>中文\nzone\t合作区|园区\n", encoding="utf-8")
    custom = HybridRetriever(retriever.index, embedder, Glossary.load(own))
    assert custom.search("the zones", k=1).expansion == ("合作区", "园区")
    assert Glossary.load(settings.index_dir / "absent.tsv").expand(AREA_EN) == []


def test_traditional_question_is_folded_to_simplified(retriever: HybridRetriever) -> None:
    result = retriever.search("深圳園區的面積是多少？", k=3)
    assert result.query.startswith("深圳园区的面积是多少？")
    assert any("3.02平方公里" in p.text for p in result.passages)
