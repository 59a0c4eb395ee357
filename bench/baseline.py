"""The plain LangChain + Chroma pipeline the benchmark compares against, built in the same run.

Nothing of ours but the embedder: files read as text → ``RecursiveCharacterTextSplitter`` (default
settings unless a chunk size is given) → ``langchain_chroma.Chroma`` (its defaults: embedded persistent
client, L2 space) with the same e5 model through :class:`assistant.langchain_adapters.LangChainEmbeddings` →
``similarity_search``. ``add_texts`` is called in batches of ``BATCH`` (one call with 100k texts exceeds
chroma's maximum batch size). For the synthetic sizes Chroma gets exactly our chunk texts and vectors: the
embedding function is a :class:`synth.PrecomputedEmbedder` (text → our vector) behind the same adapter, so
``add_texts``/``similarity_search`` run unchanged while no model is called.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from measure import dir_size_mib, percentiles, proc_status, timed_loop
from synth import SOURCES, PrecomputedEmbedder, generate, load_table, material, save_table, settings_for

from assistant.langchain_adapters import LangChainEmbeddings
from assistant.wiring import build_embedder

BATCH = 5000
COLLECTION = "bench"


def lc_store(directory: Path, embeddings: Any) -> Any:
    """A LangChain Chroma store persisted in ``directory`` (telemetry off, like ours)."""
    import chromadb
    from langchain_chroma import Chroma

    return Chroma(
        collection_name=COLLECTION,
        embedding_function=embeddings,
        persist_directory=str(directory),
        client_settings=chromadb.Settings(anonymized_telemetry=False),
    )


def _add(store: Any, texts: list[str], metadatas: list[dict[str, str]]) -> None:
    for i in range(0, len(texts), BATCH):
        store.add_texts(texts[i : i + BATCH], metadatas[i : i + BATCH])


def lc_build_shipped(spec: dict[str, Any]) -> dict[str, Any]:
    """Split index/sources with RecursiveCharacterTextSplitter and add them to Chroma (real or looked-up vectors)."""
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    work, directory = Path(spec["work"]), Path(spec["dir"])
    size = spec.get("chunk_size")
    splitter = (
        RecursiveCharacterTextSplitter()
        if size is None
        else RecursiveCharacterTextSplitter(chunk_size=int(size), chunk_overlap=int(size) // 10)
    )
    t0 = time.perf_counter()
    docs = [
        Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": p.name})
        for p in sorted(SOURCES.iterdir())
        if p.is_file()
    ]
    splits = splitter.split_documents(docs)
    split_s = time.perf_counter() - t0
    real = spec["mode"] == "real"
    vectors_file = work / f"lc_vectors_{spec['tag']}.npz"
    embedder = build_embedder(settings_for(directory)) if real else load_table(vectors_file)
    load_s = 0.0
    if real:
        t = time.perf_counter()
        embedder.embed(["河套合作区"], "passage")
        load_s = time.perf_counter() - t
    store = lc_store(directory, LangChainEmbeddings(embedder))
    texts = [d.page_content for d in splits]
    t1 = time.perf_counter()
    _add(store, texts, [dict(d.metadata) for d in splits])
    add_s = time.perf_counter() - t1
    seconds = split_s + add_s
    mem = proc_status()
    if real:
        got = store._collection.get(include=["embeddings", "documents"])
        save_table(vectors_file, ["passage"] * len(got["documents"]), got["documents"], np.asarray(got["embeddings"]))
    return {
        "chunks": len(splits),
        "mean_chars": round(sum(map(len, texts)) / max(1, len(texts)), 1),
        "seconds": round(seconds, 3),
        "chunks_per_s": round(len(splits) / seconds, 1),
        "timings_s": {"split": round(split_s, 3), "embed+add": round(add_s, 3)},
        "model_load_s": round(load_s, 2),
        "store_mib": dir_size_mib(directory),
        **mem,
    }


def lc_synth_write(spec: dict[str, Any]) -> dict[str, Any]:
    """Add the same ``n`` synthetic chunk texts with the same vectors to a LangChain Chroma store."""
    work, directory, n = Path(spec["work"]), Path(spec["dir"]), int(spec["n"])
    chunks, vectors = generate(n, material(), np.load(work / "base.npy"), seed=int(spec.get("seed", 7)))
    embedder = PrecomputedEmbedder({("passage", c.text): vectors[i] for i, c in enumerate(chunks)})
    store = lc_store(directory, LangChainEmbeddings(embedder))
    texts = [c.text for c in chunks]
    metadatas = [{"source": c.source} for c in chunks]
    t0 = time.perf_counter()
    _add(store, texts, metadatas)
    seconds = time.perf_counter() - t0
    return {
        "n": n,
        "seconds": round(seconds, 2),
        "chunks_per_s": round(n / seconds, 1),
        "store_mib": dir_size_mib(directory),
        **proc_status(),
    }


def lc_retrieve(spec: dict[str, Any]) -> dict[str, Any]:
    """``Chroma.similarity_search(q, k=6)`` latency over the question set (query vectors looked up)."""
    import json

    work, directory = Path(spec["work"]), Path(spec["dir"])
    qs = [q["question"] for q in json.loads((work / "questions.json").read_text(encoding="utf-8"))]
    t0 = time.perf_counter()
    store = lc_store(directory, LangChainEmbeddings(load_table(work / "queries.npz")))
    store.similarity_search(qs[0], k=1)
    load_s = time.perf_counter() - t0
    lat, results = timed_loop(
        qs,
        lambda q: store.similarity_search(q, k=6),
        passes=int(spec.get("passes", 3)),
        max_seconds=float(spec.get("max_s", 60)),
    )
    return {
        "load_s": round(load_s, 2),
        "latency_ms": percentiles(lat),
        "empty_results": sum(1 for r in results if not r),
        **proc_status(),
    }


WORKERS = {"lc_build_shipped": lc_build_shipped, "lc_synth_write": lc_synth_write, "lc_retrieve": lc_retrieve}
