"""Retrieval latency on the shipped index, query embedding reported separately.

    .venv/bin/python bench/latency_shipped.py        # needs `park-assistant index` first

Runs every question of ../shared/eval/dev.jsonl five times through the real hybrid retriever (real e5).
"""

from __future__ import annotations

import json
from pathlib import Path

from assistant.config import Settings
from assistant.wiring import build_retriever

QUESTIONS = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev.jsonl"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[round(q * (len(ordered) - 1))]


def main() -> None:
    retriever = build_retriever(Settings.from_env())
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    retriever.search(questions[0], 6)  # load the model first: cold start is measured by bench/run.py
    embed, search = [], []
    for _ in range(5):
        for q in questions:
            t = retriever.search(q, 6).timings_ms
            embed.append(t["embed_query"])
            search.append(t["total"] - t["embed_query"])
    print(f"shipped index: {len(retriever.index.chunks)} chunks, {len(search)} searches")
    for name, values in (("retrieval (embedding excluded)", search), ("query embedding", embed)):
        print(f"{name:32s} p50 {percentile(values, .5):6.1f} ms   p95 {percentile(values, .95):6.1f} ms")


if __name__ == "__main__":
    main()
