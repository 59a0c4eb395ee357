"""Filtered retrieval at scale: ``HybridRetriever.search`` latency with lifecycle-status, scope, document and
kind filters over a synthetic index (query embedding excluded), beside the unfiltered search.

    .venv/bin/python bench/filters.py --n 100000 --work /tmp/bench-filters    # prints a table, writes JSON

Filters are one boolean mask over the chunks (``assistant.answering.retrieval.filter_mask``, a look-up in
integer-coded fields, cached per filter): BM25 scores are masked, and the dense side brute-forces a small kept
subset (a document) or over-fetches unfiltered neighbours in proportion to the share kept (a status, a scope,
a kind) — no chroma ``where``. The same cases run in ``bench/run.py`` (``workers.filter_latencies``). Beside
the wall-clock latency, the CPU time of each search: on a shared box the two differ by the wait for a core.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workers import filter_latencies, prep, synth_write  # noqa: E402

from assistant.answering.retrieval import Glossary, HybridRetriever  # noqa: E402
from assistant.config import Settings  # noqa: E402
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
    k = Settings().top_k
    print(f"{len(index.chunks)} chunks, {len(qs)} questions, k={k}, load average {os.getloadavg()[0]:.1f}\n")
    print(f"{'filter':<18} {'kept':>7} {'p50 ms':>8} {'p95 ms':>8} {'cpu p50':>8} {'cpu p95':>8} {'dense p50':>10} "
          f"{'empty':>6}")

    def show(name: str, r: dict[str, Any]) -> None:
        p, c = r["latency_ms"], r["cpu_ms"]
        print(f"{name:<18} {r['kept']:>7} {p['p50']:>8} {p['p95']:>8} {c['p50']:>8} {c['p95']:>8} "
              f"{r['dense_p50_ms']:>10.2f} {r['empty']:>6}", flush=True)

    cases = filter_latencies(retriever, qs, qv, k, passes=2, max_seconds=args.max_s, show=show)
    out: dict[str, Any] = {"chunks": len(index.chunks), "questions": len(qs), "cases": cases,
                           "loadavg": [round(x, 2) for x in os.getloadavg()]}
    print(f"\nload average at the end {out['loadavg'][0]}: on a shared box the wall clock includes waiting for a "
          "core; cpu is the process's own time a search")
    (work / "filters.json").write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"\n{work / 'filters.json'}")


if __name__ == "__main__":
    main()
