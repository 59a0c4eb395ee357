"""Checklist metrics for eligibility questions (category ``eligibility``, or any question with a ``verdict``).

* ``checklist_shown``: the answer carries a checklist;
* ``checklist_policy_hit``: one of its items cites a passage holding an ``evidence`` string (the right policy);
* ``checklist_item_recall``: the share of the question's ``conditions`` groups quoted by some item;
* ``verdict_accuracy``: the verdict is the expected one;
* ``likely_on_incomplete``: 1 when the verdict is ``likely`` although the sources' list is incomplete
  (must stay 0).
"""

from __future__ import annotations

from assistant.data import Answer
from assistant.evaluation.questions import Question
from assistant.lang import normalize_for_match


def score_checklist(q: Question, answer: Answer) -> dict[str, float | None]:
    """The checklist metrics of one answer (None where they do not apply)."""
    applies = q.category == "eligibility" or q.verdict is not None
    if not applies:
        return {}
    shown = answer.verdict is not None
    cited = [normalize_for_match(i.citation.passage_text or i.citation.quote) for i in answer.checklist if i.citation]
    quotes = [normalize_for_match(i.condition) for i in answer.checklist]
    evidence = [normalize_for_match(e) for e in q.evidence]
    groups = [[normalize_for_match(s) for s in g] for g in q.conditions]
    found = sum(any(any(s in quote for quote in quotes) for s in g) for g in groups)
    incomplete = shown and not answer.meta.get("conditions_complete", True)
    return {
        "checklist_shown": float(shown),
        "checklist_policy_hit": float(any(e in text for e in evidence for text in cited)) if evidence else None,
        "checklist_item_recall": found / len(groups) if groups else None,
        "verdict_accuracy": float(answer.verdict == q.verdict) if q.verdict is not None else None,
        "likely_on_incomplete": float(incomplete and answer.verdict == "likely") if shown else None,
    }
