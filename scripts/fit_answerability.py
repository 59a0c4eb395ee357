"""Refit the answerability model (assistant/answering/answerability.json) on the dev set's tune split.

    .venv/bin/python scripts/fit_answerability.py [QUESTIONS.jsonl ...] [--split tune --split team]

The default is the dev set's tune split and the team's own questions (``eval/newuser.jsonl``, split ``team``):
every labelled question that is not held back for reporting.

Builds the assistant over the current index (run ``park-assistant index`` first), computes the evidence
features of every question of the split exactly as answering does (prompt injections excepted: the guard
declines those before any evidence is weighed), fits the logistic model with cross-validation (see
:mod:`assistant.answering.answerability`) and writes the artifact with the data it was fitted on and its
cross-validated figures. Never fit on the ``check`` split.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
from pathlib import Path

import numpy as np

from assistant.answering.answerability import ARTIFACT, fit_model
from assistant.answering.budget import Deadline
from assistant.answering.evidence import FEATURES
from assistant.answering.guard import is_injection, without_instructions
from assistant.config import Settings
from assistant.evaluation.questions import load_questions
from assistant.wiring import build_assistant

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = [str(ROOT.parent / "shared" / "eval" / "dev.jsonl"), str(ROOT / "eval" / "newuser.jsonl")]
    parser.add_argument("questions", nargs="*", default=default)
    parser.add_argument("--split", action="append", help="a split to fit on (repeatable; default: tune and team)")
    parser.add_argument("--out", default=str(ARTIFACT), help="where to write the model")
    args = parser.parse_args()
    splits = args.split or ["tune", "team"]
    if "check" in splits:
        parser.error("the check split is for reporting only: fit on tune")

    assistant = build_assistant(Settings.from_env())
    questions = [q for path in args.questions for q in load_questions(path)
                 if q.split in splits and not is_injection(q.question)]
    rows, labels, forced = [], [], []
    for q in questions:
        asked = without_instructions(q.question)  # as answering does: what the question embeds for us is dropped
        query = assistant.parser.parse(asked, lang=q.lang,  # type: ignore[arg-type]
                                       standalone=assistant.followups.standalone(asked, q.history, Deadline()))
        result = assistant.retriever.search(query, assistant.top_k)
        evidence = assistant.judge.assess(query, list(result.passages), result.vectors)
        rows.append([evidence.features[f] for f in FEATURES])
        labels.append(1.0 if q.answerable else 0.0)
        forced.append(evidence.missing is not None)  # declined whatever the probability
    x, y = np.array(rows), np.array(labels)
    model = fit_model(x, y, FEATURES, meta={
        "fitted": dt.date.today().isoformat(),
        "questions": {Path(p).name: hashlib.sha1(Path(p).read_bytes()).hexdigest()[:12] for p in args.questions},
        "split": "+".join(splits), "embedder": assistant.retriever.embedder.name,
        "refit": "python scripts/fit_answerability.py"}, forced=np.array(forced))
    model.save(Path(args.out))
    cv = model.meta["cv"]
    print(f"fitted on {len(y)} {'+'.join(splits)} questions ({int(y.sum())} answerable): C={cv['c']}, "
          f"threshold {model.threshold:.2f}; cross-validated balanced accuracy {cv['balanced_accuracy']:.3f}, "
          f"decline accuracy {cv['decline_accuracy']:.3f}, false declines {cv['false_decline_rate']:.3f}; "
          f"off-topic threshold (llm mode) {model.off_topic_threshold:.2f}: decline accuracy "
          f"{cv['off_topic']['decline_accuracy']:.3f}, false declines {cv['off_topic']['false_decline_rate']:.3f} "
          f"→ {args.out}")


if __name__ == "__main__":
    main()
