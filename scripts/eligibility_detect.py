"""Print the eligibility detector's confusion on a question file, per split.

    .venv/bin/python scripts/eligibility_detect.py [../shared/eval/dev.jsonl] [-v]

Positives are the questions of category ``eligibility``; ``-v`` lists the misses and false alarms.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from assistant.answering.eligibility.cues import Cues
from assistant.answering.eligibility.detect import detect
from assistant.evaluation.questions import load_questions

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> None:
    verbose = "-v" in argv
    paths = [a for a in argv if a != "-v"]
    path = Path(paths[0]) if paths else REPO.parent / "shared" / "eval" / "dev.jsonl"
    cues = Cues.load(REPO / "index" / "eligibility.tsv")
    assert cues is not None, "index/eligibility.tsv is missing"
    counts: dict[str, Counter[str]] = {}
    for q in load_questions(path):
        truth = q.category == "eligibility"
        found = detect(q.question, cues)
        cell = ("t" if truth == found.eligible_question else "f") + ("p" if found.eligible_question else "n")
        counts.setdefault(q.split or "-", Counter())[cell] += 1
        if verbose and cell in ("fp", "fn"):
            print(f"  {cell} {q.split:5} {q.id} {q.category:12} {q.question[:60]}  [{found.self_cue}|{found.ask_cue}]")
    for split, c in sorted(counts.items()):
        tp, fp, fn = c["tp"], c["fp"], c["fn"]
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        print(f"{split:6} tp={tp} fp={fp} fn={fn} tn={c['tn']}  precision={precision:.2f} recall={recall:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
