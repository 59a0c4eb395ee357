"""Write a small, fixed, mixed subset of an evaluation file: for comparing slow variants (e.g. LLM mode).

Questions of the given split are grouped by (language, category), shuffled with a fixed seed, and taken
round-robin across the groups (in a seeded group order) until ``--n`` are chosen, so every language and
category, the should-decline ones included, is represented before any is taken twice.

Example (the LLM-mode tuning subset):
    .venv/bin/python scripts/eval_subset.py ../shared/eval/dev.jsonl --split tune --n 30 --seed 11 \
        --out /tmp/tune30.jsonl
    .venv/bin/park-assistant eval /tmp/tune30.jsonl --mode llm --out eval-out/tune30-llm
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path


def subset(rows: list[dict], split: str, n: int, seed: int) -> list[dict]:
    """``n`` rows of ``split``, spread over (lang, category) groups; the same arguments give the same rows."""
    rng = random.Random(seed)
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        if row.get("split") == split:
            groups[(str(row.get("lang", "")), str(row.get("category", "")))].append(row)
    keys = sorted(groups)
    rng.shuffle(keys)
    for key in keys:
        rng.shuffle(groups[key])
    chosen: list[dict] = []
    while len(chosen) < n and any(groups[k] for k in keys):
        for key in keys:
            if groups[key] and len(chosen) < n:
                chosen.append(groups[key].pop())
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("questions", type=Path)
    ap.add_argument("--split", default="tune")
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = subset(rows, args.split, args.n, args.seed)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen), encoding="utf-8")
    print(f"{len(chosen)} questions of split {args.split!r} → {args.out}")


if __name__ == "__main__":
    main()
