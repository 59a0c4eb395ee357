"""Measurements of our pipeline. Each runs in its own subprocess (``run.py --worker NAME``) so that its
peak memory (VmHWM) is its own; each takes a spec dict and returns a JSON-able dict.

The work folder (``spec["work"]``) carries what one measurement hands the next: the base sentence vectors,
the question set and its query vectors, the vectors of the shipped corpus.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from measure import dir_size_mib, percentiles, proc_status, timed_loop
from synth import (
    ROOT,
    generate,
    load_table,
    material,
    material_digest,
    prepare_index_dir,
    questions,
    save_table,
    settings_for,
    write_index,
)

from assistant.answering.query import is_mostly_latin
from assistant.answering.retrieval import Filters, HybridRetriever, filter_mask
from assistant.answering.vocabulary import Glossary
from assistant.config import Settings
from assistant.knowledge.embedding import Embedder, embed_batched
from assistant.knowledge.indexing import LoadedIndex, chunk_index_text, load_index, store_dir
from assistant.knowledge.store import open_client
from assistant.wiring import build_assistant, build_client, build_embedder, build_indexer

CACHE = ROOT / "bench" / "results" / "tmp"  # git-ignored; only the e5 vectors of the corpus sentences


def _questions(work: Path) -> list[str]:
    return [q["question"] for q in json.loads((work / "questions.json").read_text(encoding="utf-8"))]


def _warm(embedder: Embedder) -> float:
    t0 = time.perf_counter()
    embedder.embed(["河套合作区"], "passage")
    return time.perf_counter() - t0


def prep(spec: dict[str, Any]) -> dict[str, Any]:
    """Base sentence vectors (cached), the question set, its query vectors; times query embedding alone."""
    work = Path(spec["work"])
    m = material()
    embedder = build_embedder(settings_for(work))
    load_s = _warm(embedder)
    cache = CACHE / f"sentences-{material_digest(m)}-{embedder.name}.npy"
    t0 = time.perf_counter()
    if cache.exists():
        base = np.load(cache)
    else:
        base = embed_batched(embedder, list(m.sentences), "passage", batch_size=16)
        CACHE.mkdir(parents=True, exist_ok=True)
        np.save(cache, base)
    base_s = time.perf_counter() - t0
    np.save(work / "base.npy", base)
    qs = questions(m)
    (work / "questions.json").write_text(json.dumps(qs, ensure_ascii=False), encoding="utf-8")

    retriever = HybridRetriever(None, embedder, Glossary.load(ROOT / "index" / "glossary.tsv"))  # type: ignore[arg-type]
    ours: list[str] = []
    extra: list[str] = []
    for q in qs:
        text, expansion = retriever.query_text(q["question"])
        ours.append(text)
        if expansion and is_mostly_latin(q["question"]):
            extra.append(" ".join(expansion))  # the second query vector English questions get
        extra.append(q["question"])  # what the plain baseline embeds
    for _ in range(3):
        embedder.embed([ours[0]], "query")
    vectors: dict[str, np.ndarray] = {}
    latencies = []
    for text in ours:  # one text a call, as a request does; repeated texts are timed again
        t = time.perf_counter()
        vectors[text] = embedder.embed([text], "query")[0]
        latencies.append((time.perf_counter() - t) * 1000)
    for text in extra:
        if text not in vectors:
            vectors[text] = embedder.embed([text], "query")[0]
    texts = list(vectors)
    save_table(work / "queries.npz", ["query"] * len(texts), texts, np.vstack([vectors[t] for t in texts]))
    return {
        "embedder": embedder.name,
        "engine": type(getattr(embedder, "_model", None)).__name__,
        "model_load_s": round(load_s, 2),
        "sentences": len(m.sentences),
        "base_vectors_s": round(base_s, 2),
        "base_vectors_cached": base_s < 1.0,
        "questions": len(qs),
        "query_embed_ms": percentiles(latencies),
        **proc_status(),
    }


def build_shipped(spec: dict[str, Any]) -> dict[str, Any]:
    """``Indexer.build`` over index/sources: with the real embedder, or with its vectors looked up (write path)."""
    work, index_dir = Path(spec["work"]), Path(spec["dir"])
    prepare_index_dir(index_dir)
    settings = settings_for(index_dir)
    real = spec["mode"] == "real"
    embedder = build_embedder(settings) if real else load_table(work / "shipped_vectors.npz")
    load_s = _warm(embedder) if real else 0.0
    indexer = build_indexer(settings, embedder)
    t0 = time.perf_counter()
    report = indexer.build(force=True)
    seconds = time.perf_counter() - t0
    mem = proc_status()
    if real:  # hand the vectors to the write-path measurement
        index = load_index(index_dir, build_client(settings))
        vecs = index.store.vectors([c.id for c in index.chunks])
        save_table(
            work / "shipped_vectors.npz",
            ["passage"] * len(index.chunks),
            [chunk_index_text(c) for c in index.chunks],
            np.vstack([vecs[c.id] for c in index.chunks]),
        )
    return {
        "chunks": report.chunks,
        "documents": report.documents,
        "embedded": report.embedded,
        "seconds": round(seconds, 3),
        "chunks_per_s": round(report.chunks / seconds, 1),
        "timings_s": {k: round(v, 3) for k, v in report.timings.items()},
        "model_load_s": round(load_s, 2),
        "store_mib": dir_size_mib(store_dir(index_dir)),
        **mem,
    }


def synth_write(spec: dict[str, Any]) -> dict[str, Any]:
    """Generate ``n`` synthetic chunks + vectors and write them as a build (chroma + BM25 + chunks.jsonl)."""
    work, index_dir, n = Path(spec["work"]), Path(spec["dir"]), int(spec["n"])
    t0 = time.perf_counter()
    chunks, vectors = generate(n, material(), np.load(work / "base.npy"), seed=int(spec.get("seed", 7)))
    gen_s = time.perf_counter() - t0
    client = open_client(store_dir(index_dir) / "chroma")
    timings = write_index(index_dir, client, chunks, vectors)
    return {
        "n": n,
        "generate_s": round(gen_s, 2),
        "seconds": round(timings["total"], 2),
        "chunks_per_s": round(n / timings["total"], 1),
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "mean_chars": round(statistics.mean(len(c.text) for c in chunks), 1),
        "store_mib": dir_size_mib(store_dir(index_dir)),
        **proc_status(),
    }


def retrieve(spec: dict[str, Any]) -> dict[str, Any]:
    """``HybridRetriever.search(q, query_vector=…)`` latency over the question set (embedding excluded)."""
    work, index_dir = Path(spec["work"]), Path(spec["dir"])
    qs = _questions(work)
    embedder = load_table(work / "queries.npz")
    t0 = time.perf_counter()
    index = load_index(index_dir, open_client(store_dir(index_dir) / "chroma"))
    load_s = time.perf_counter() - t0
    after_load = proc_status()
    retriever = HybridRetriever(
        index, embedder, Glossary.load(index_dir / "glossary.tsv"), candidates=Settings().candidates
    )
    qv = {q: embedder.embed([retriever.query_text(q)[0]], "query")[0] for q in qs}
    k = Settings().top_k
    lat, results = timed_loop(
        qs,
        lambda q: retriever.search(q, k, query_vector=qv[q]),
        passes=int(spec.get("passes", 3)),
        max_seconds=float(spec.get("max_s", 60)),
    )
    parts = {
        key: round(statistics.median(r.timings_ms[key] for r in results), 3)
        for key in ("embed_query", "dense", "lexical", "fuse")
    }
    out: dict[str, Any] = {
        "chunks": len(index.chunks),
        "load_s": round(load_s, 2),
        "rss_after_load_mib": after_load.get("vmrss_mib"),
        "latency_ms": percentiles(lat),
        "median_parts_ms": parts,
        "empty_results": sum(1 for r in results if not r.passages),
    }
    if spec.get("filtered"):
        out["filters"] = filter_latencies(retriever, qs, qv, k, passes=1,
                                          max_seconds=float(spec.get("max_s", 60)) / 4)
    return {**out, **proc_status()}


def filter_cases(index: LoadedIndex) -> dict[str, Filters]:
    """The filters measured at scale, by name: lifecycle status, scope, one document, kind, and two at once."""
    one_doc = index.chunks[len(index.chunks) // 2].source
    return {
        "none": Filters(), "status in_force": Filters(statuses=("in_force",)),
        "status expired": Filters(statuses=("expired",)), "scope 香港园区": Filters(scopes=("香港园区",)),
        "document": Filters(sources=(one_doc,)), "kind policy": Filters(kinds=("policy",)),
        "status+scope": Filters(statuses=("in_force",), scopes=("深圳园区",)),
    }


def filter_latencies(retriever: HybridRetriever, qs: list[str], qv: dict[str, np.ndarray], k: int, *,
                     passes: int = 2, max_seconds: float = 30.0, warmup: int = 3,
                     show: Callable[[str, dict[str, Any]], None] | None = None) -> dict[str, dict[str, Any]]:
    """``search`` latency with each of :func:`filter_cases` (query vectors looked up): per filter, the chunks
    it keeps, p50/p95/p99, the same of the CPU time the process spent on each search (what the latency would
    be with the cores to itself: on a shared box the wall clock includes waiting for them), the dense side's
    median (mask included) and how many searches came back empty."""
    out: dict[str, dict[str, Any]] = {}
    for name, f in filter_cases(retriever.index).items():
        kept = int(filter_mask(f, retriever.index).sum()) if f else len(retriever.index.chunks)
        cpu: list[float] = []

        def search(q: str, f: Filters = f, cpu: list[float] = cpu) -> Any:
            c0 = time.process_time()
            result = retriever.search(q, k, f, query_vector=qv[q])
            cpu.append((time.process_time() - c0) * 1000)
            return result

        t0 = time.perf_counter()
        lat, results = timed_loop(qs, search, passes=passes, max_seconds=max_seconds, warmup=warmup)
        out[name] = {"kept": kept, "latency_ms": percentiles(lat), "cpu_ms": percentiles(cpu[len(cpu) - len(lat):]),
                     "dense_p50_ms": round(statistics.median(r.timings_ms["dense"] for r in results), 2),
                     "empty": sum(1 for r in results if not r.passages), "seconds": round(time.perf_counter() - t0, 1)}
        if show is not None:
            show(name, out[name])
    return out


def answer(spec: dict[str, Any]) -> dict[str, Any]:
    """``Assistant.answer()`` latency (extractive), query vectors looked up or embedded by the real model."""
    work, index_dir = Path(spec["work"]), Path(spec["dir"])
    qs = _questions(work)
    settings = settings_for(index_dir)
    real = spec["mode"] == "real"
    embedder = build_embedder(settings) if real else load_table(work / "queries.npz")
    if real:
        _warm(embedder)
    assistant = build_assistant(settings, embedder=embedder)
    lat, answers = timed_loop(
        qs, assistant.answer, passes=int(spec.get("passes", 2)), max_seconds=float(spec.get("max_s", 60))
    )
    parts = {
        key: round(statistics.median(a.timings_ms.get(key, 0.0) for a in answers), 3)
        for key in ("embed_query", "retrieve")
    }
    return {
        "chunks": len(assistant.retriever.index.chunks),
        "latency_ms": percentiles(lat),
        "median_parts_ms": parts,
        "answered": sum(1 for a in answers if a.answerable),
        "declined": sum(1 for a in answers if not a.answerable),
        "mean_citations": round(statistics.mean(len(a.citations) for a in answers), 2),
        **proc_status(),
    }


def quality(spec: dict[str, Any]) -> dict[str, Any]:
    """recall@5 of evidence on the dev set over the shipped corpus: ours vs the plain LangChain stores."""
    from baseline import lc_store
    from synth import DEV

    from assistant.evaluation.questions import load_questions
    from assistant.lang import normalize_for_match
    from assistant.langchain_adapters import LangChainEmbeddings
    from assistant.wiring import build_retriever

    questions_ = [q for q in load_questions(DEV) if q.answerable and q.evidence]
    settings = settings_for(Path(spec["dir"]))
    embedder = build_embedder(settings)
    _warm(embedder)

    def score(passages_of: Any) -> dict[str, Any]:
        hits, chars = [], []
        for q in questions_:
            texts = passages_of(q.question)
            needles = [normalize_for_match(e) for e in q.evidence]
            hits.append(any(any(n in normalize_for_match(t) for n in needles) for t in texts))
            chars.append(sum(len(t) for t in texts))
        return {
            "recall_at_5": round(sum(hits) / len(hits), 3),
            "hits": sum(hits),
            "questions": len(hits),
            "mean_context_chars": round(statistics.mean(chars), 1),
        }

    retriever = build_retriever(settings, embedder)
    out = {"ours": score(lambda q: [p.chunk.text for p in retriever.search(q, 5).passages])}
    for tag, d in spec["baselines"].items():
        store = lc_store(Path(d), LangChainEmbeddings(embedder))
        out[tag] = score(lambda q, s=store: [doc.page_content for doc in s.similarity_search(q, k=5)])
    return out


WORKERS = {
    "prep": prep,
    "build_shipped": build_shipped,
    "synth_write": synth_write,
    "retrieve": retrieve,
    "answer": answer,
    "quality": quality,
}
