"""Print the checklist metrics of an eval run per split (with the median answer time and who judged the
items: ``terms``, ``model``, ``both``), and each question's verdict.

    .venv/bin/park-assistant eval eval/eligibility.jsonl --out /tmp/elig --no-progress
    .venv/bin/python scripts/eligibility_report.py /tmp/elig [eval/eligibility.jsonl]

The questions file gives each id's split (results do not carry it).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from assistant.evaluation.evaluate import load_results
from assistant.evaluation.questions import load_questions

METRICS = ("checklist_shown", "checklist_policy_hit", "checklist_item_recall", "verdict_accuracy",
           "likely_on_incomplete")


def main(argv: list[str]) -> None:
    out_dir = Path(argv[0])
    questions = {q.id: q for q in load_questions(argv[1] if len(argv) > 1 else "eval/eligibility.jsonl")}
    by_split: dict[str, list[dict[str, object]]] = {}
    for record in load_results(out_dir):
        q = questions.get(str(record["id"]))
        if q is None:
            continue
        by_split.setdefault(q.split or "-", []).append(record)
        checklist = record.get("checklist") or {}
        print(f"{q.split:5} {q.id} expected={q.verdict} got={checklist.get('verdict')} "
              f"policy={str(checklist.get('policy'))[:40]}")
    for split, records in sorted(by_split.items()):
        cells = []
        for name in METRICS:
            values = [float(r["metrics"][name]) for r in records  # type: ignore[index]
                      if r["metrics"].get(name) is not None]  # type: ignore[attr-defined]
            cells.append(f"{name}={sum(values) / len(values):.2f} (n={len(values)})" if values else f"{name}=—")
        judged: dict[str, int] = {}
        for r in records:
            listed: Any = r.get("checklist") or {}
            for item in listed.get("items", []):
                who = item.get("judged_by", "terms")
                judged[who] = judged.get(who, 0) + 1
        latencies = sorted(float(str(r["latency_ms"])) for r in records if r.get("latency_ms") is not None)
        p50 = f"{latencies[len(latencies) // 2] / 1000:.2f} s" if latencies else "—"
        print(f"{split}: " + "  ".join(cells) + f"  p50={p50}  judged_by={judged}")


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.stdout.flush()
