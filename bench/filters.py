"""Filtered retrieval at scale: ``HybridRetriever.search`` latency with lifecycle-status, scope, document and
kind filters over a synthetic index (query embedding excluded), beside the unfiltered search.

    .venv/bin/python bench/filters.py --n 100000 --work /tmp/bench-filters    # prints a table, writes JSON

Filters are one boolean mask over the chunks (``assistant.answering.retrieval.filter_mask``): BM25 scores are
masked, and the dense side brute-forces a small kept subset (a document) or over-fetches unfiltered
neighbours in proportion to the share kept (a status, a scope, a kind) — no chroma ``where``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from measure import percentiles, timed_loop  # noqa: E402
from workers import prep, synth_write  # noqa: E402

from assistant.answering.retrieval import Glossary, HybridRetriever, filter_mask  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.data import Filters  # noqa: E402
from assistant.knowledge.indexing import load_index, store_dir  # noqa: E402
from assistant.knowledge.store import open_client  # noqa: E402

ROOT = HERE.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="synthetic chunks")
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-filters"), help="work folder (kept: reruns reuse it)")
    ap.add_argument("--max-s", type=float, default=30.0, help="seconds per filter at most")
    args = ap.parse_args()
    work, index_dir = args.work, args.work / f"synth-{args.n}"
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "queries.npz").exists():
        print("prep: corpus sentence vectors and query vectors (real e5) …", flush=True)
        prep({"work": str(work)})
    if not (store_dir(index_dir) / "current.json").exists():
        print(f"writing a synthetic index of {args.n} chunks …", flush=True)
        synth_write({"work": str(work), "dir": str(index_dir), "n": args.n})
    from synth import load_table

    qs = [q["question"] for q in json.loads((work / "questions.json").read_text(encoding="utf-8"))]
    embedder = load_table(work / "queries.npz")
    index = load_index(index_dir, open_client(store_dir(index_dir) / "chroma"))
    retriever = HybridRetriever(index, embedder, Glossary.load(ROOT / "index" / "glossary.tsv"),
                                candidates=Settings().candidates)
    qv = {q: embedder.embed([retriever.query_text(q)[0]], "query")[0] for q in qs}
    one_doc = index.chunks[len(index.chunks) // 2].source
    cases: dict[str, Filters] = {
        "none": Filters(), "status in_force": Filters(statuses=("in_force",)),
        "status expired": Filters(statuses=("expired",)), "scope 香港园区": Filters(scopes=("香港园区",)),
        "document": Filters(sources=(one_doc,)), "kind policy": Filters(kinds=("policy",)),
        "status+scope": Filters(statuses=("in_force",), scopes=("深圳园区",)),
    }
    k = Settings().top_k
    out: dict[str, Any] = {"chunks": len(index.chunks), "questions": len(qs), "cases": {}}
    print(f"{len(index.chunks)} chunks, {len(qs)} questions, k={k}\n")
    print(f"{'filter':<18} {'kept':>7} {'p50 ms':>8} {'p95 ms':>8} {'dense p50':>10} {'empty':>6}")
    for name, f in cases.items():
        kept = int(filter_mask(f, index).sum()) if f else len(index.chunks)
        t0 = time.perf_counter()
        lat, results = timed_loop(qs, lambda q, f=f: retriever.search(q, k, f, query_vector=qv[q]), passes=2,
                                  max_seconds=args.max_s, warmup=3)
        p = percentiles(lat)
        dense = sorted(r.timings_ms["dense"] for r in results)[len(results) // 2]
        empty = sum(1 for r in results if not r.passages)
        out["cases"][name] = {"kept": kept, "latency_ms": p, "dense_p50_ms": round(dense, 2), "empty": empty,
                              "seconds": round(time.perf_counter() - t0, 1)}
        print(f"{name:<18} {kept:>7} {p['p50']:>8} {p['p95']:>8} {dense:>10.2f} {empty:>6}", flush=True)
    (work / "filters.json").write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"\n{work / 'filters.json'}")


if __name__ == "__main__":
    main()
