"""The source's words after a small model's Chinese answer that leaves out what the best evidence quote says.

A 1.5B model often answers with too little ("有。"), the wrong item of a list, or the question's own words;
the sentences it does write pass the checks, so nothing is removed and nothing says a fact is missing. The
quote's clause closest to the question is what the answer should say; when the checked answer carries less
than :data:`MIN_CARRIED` of that clause's wording, the quote is added after it, verbatim, cited, and
labelled as the source's words (``原文：…[n]``). Not in an English answer: the quote is Chinese, and an English
answer is English (the glossary's English names of the passages' terms help it there instead).

Chosen on the dev set's ``tune`` split (llm mode; the 67 Chinese questions with facts, the model's answers as
they were, the quote added where the test applied): fact coverage 65.7% → 79.1% at 0.4, adding the quote to
27 answers (12 of which had their facts already); 0.3: 76.1% (22 answers), 0.5: 79.1% (33 answers). Holding
the answer to the quote's best-carried sentence instead of the clause closest to the question: 77.6% at 0.4
(33 answers). The narrower test — the kind of detail asked for (a date, an amount, a contact) missing from
the answer but stated by the quote — applied to none of the answers that lost a fact.

>>> carried("合作区共约3.89平方公里[1]。", "面积：合作区共约3.89平方公里。", "合作区总面积有多大？") >= MIN_CARRIED
True
>>> carried("有[1]。", "对运输科研物资的车辆开设绿色通道。", "运科研物资的车有没有便利？") < MIN_CARRIED
True
"""

from __future__ import annotations

import re

from assistant.answering.attribution import overlap
from assistant.lang import to_simplified
from assistant.text.markers import strip_markers

#: The share of the wording of the quote's clause closest to the question that an answer must carry to stand
#: without the quote. Chosen on the tune split (see the module docstring).
MIN_CARRIED = 0.4

_CLAUSE = re.compile(r"(?<=[。！？；;，,：:\n])")
_CJK = re.compile(r"[\u3400-\u9fff]")


def clauses(quote: str) -> list[str]:
    """The clauses of ``quote`` that say something (four Chinese characters or more)."""
    return [c for c in _CLAUSE.split(quote) if len(_CJK.findall(c)) >= 4] or [quote]


def carried(answer: str, quote: str, question: str) -> float:
    """The share of the wording of ``quote``'s clause closest to ``question`` found in ``answer`` (markers
    aside)."""
    asked = to_simplified(question)
    closest = max(clauses(quote), key=lambda c: overlap(c, asked))
    return overlap(closest, to_simplified(strip_markers(answer)))
