"""Is this an eligibility question? The user states their situation and asks whether a policy applies.

A rule over the cue file (:mod:`.cues`): a ``self`` cue (first person, or "our company has just …") and an
``ask`` cue ("能享受吗", "可唔可以攞", "can we use", "eligible"). Both are matched on the Simplified,
lower-cased question, so zh-Hant questions meet the same cues. The cues were chosen on the dev set's
``tune`` split (``scripts/eligibility_detect.py`` prints the confusion on each split).
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.answering.eligibility.cues import Cues
from assistant.lang import to_simplified


@dataclass(frozen=True)
class Detection:
    """Why a question was (or was not) taken for an eligibility question: the cues it matched."""

    eligible_question: bool
    self_cue: str | None
    ask_cue: str | None


def detect(question: str, cues: Cues) -> Detection:
    """Match the ``self`` and ``ask`` cues; both present → an eligibility question.

    >>> from pathlib import Path
    >>> cues = Cues.parse("self\\t我\\nask\\t能[^？]{0,8}享受")
    >>> detect("我是香港居民，能享受个税优惠吗？", cues).eligible_question
    True
    """
    text = to_simplified(question).lower()
    self_match = cues.search("self", text)
    ask_match = cues.search("ask", text)
    return Detection(bool(self_match and ask_match), self_match.group(0) if self_match else None,
                     ask_match.group(0) if ask_match else None)
