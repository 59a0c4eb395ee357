"""The source's words after a small model's Chinese answer that leaves out what the best evidence quote says.

A 1.5B model often answers with too little ("有。"), the wrong item of a list, or the question's own words;
the sentences it does write pass the checks, so nothing is removed and nothing says a fact is missing. The
quote's clause closest to the question is what the answer should say; when the checked answer carries less
than :data:`MIN_CARRIED` of that clause's wording, the quote is added after it, verbatim, cited, and
labelled as the source's words (``原文：…[n]``).

Not in an English answer: the quote is Chinese, and an English answer is English. There, when the question asks
for a date or an amount that the best quote states and the model's checked answer gives none ("Yes, it is open
already."), the quote's dates or amounts are added in English, as the quoted answer's lead line gives them
(amounts with the original figure and unit in brackets, :func:`assistant.answering.lead.asked_for`), cited:
``The source states: about 3.89 square kilometres (约3.89平方公里) [n].`` (:func:`leaves_out`). On the tune split
(llm mode) it was added to 1 of the 13 English answers with facts in one run (a date written 2025年12月22日), to
none in another; their fact coverage stayed 92.3%: the English answer that loses facts there is a list answered
with one of its items.

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
from collections.abc import Sequence

from assistant.answering.attribution import overlap
from assistant.answering.citations import figures
from assistant.lang import to_simplified
from assistant.text.markers import strip_markers

#: The share of the wording of the quote's clause closest to the question that an answer must carry to stand
#: without the quote. Chosen on the tune split (see the module docstring).
MIN_CARRIED = 0.4

_CLAUSE = re.compile(r"(?<=[。！？；;，,：:\n])")
_CJK = re.compile(r"[\u3400-\u9fff]")
#: A figure written the Chinese way (2023年, 500万元, 3.89平方公里): no English reader's date or amount.
_IN_CHINESE = re.compile(r"\d+(?:[.,]\d+)*(?=\s*[\u3400-\u9fff])")
#: Words an English date or amount needs besides its digits: "March 2026" is not "2026", "5 million" not "5".
_KEY_WORDS = re.compile(r"\b(?:january|february|march|april|may|june|july|august|september|october|november|"
                        r"december|million|billion)\b", re.I)


def clauses(quote: str) -> list[str]:
    """The clauses of ``quote`` that say something (four Chinese characters or more)."""
    return [c for c in _CLAUSE.split(quote) if len(_CJK.findall(c)) >= 4] or [quote]


def carried(answer: str, quote: str, question: str) -> float:
    """The share of the wording of ``quote``'s clause closest to ``question`` found in ``answer`` (markers
    aside)."""
    asked = to_simplified(question)
    closest = max(clauses(quote), key=lambda c: overlap(c, asked))
    return overlap(closest, to_simplified(strip_markers(answer)))


def leaves_out(answer: str, items: Sequence[str], quote: str) -> bool:
    """Does the English ``answer`` leave out what ``quote`` states that the question asks for? The ``items`` are
    those dates or amounts in English ("20 November 2024", "about 3.89 square kilometres (约3.89平方公里)"); the
    answer states one when it has the item's digits and its month or magnitude word. An answer that gives any
    figure of the quote leaves nothing out: it chose what to say from the quote (the Shenzhen Park's 3.02 from a
    quote whose first figure is the zone's 3.89), and that choice stands. A figure written the source's way
    ("2023年9月7日", "500万元") is not stated in English.

    >>> leaves_out("It covers about 3.89 km² [1].", ["about 3.89 square kilometres (约3.89平方公里)"], "约3.89平方公里")
    False
    >>> leaves_out("Yes, it is open already [1].", ["7 September 2023"], "于2023年9月7日开园")
    True
    >>> leaves_out("It opened on 2023年9月7日 [1].", ["7 September 2023"], "于2023年9月7日开园")
    True
    """
    said = figures(_IN_CHINESE.sub(" ", strip_markers(answer)))
    if said & figures(quote):
        return False
    words = {w.lower() for w in _KEY_WORDS.findall(answer)}
    return not any(figures(english) <= said and {w.lower() for w in _KEY_WORDS.findall(english)} <= words
                   for english in (item.partition(" (")[0] for item in items))
