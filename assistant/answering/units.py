"""The quotable units of retrieved passages, scored against a question's terms.

A unit is one sentence or list line of a passage, with its document offsets. Its term coverage is the weighted
share of the question's content terms it holds: a term in the unit counts fully; in the line that introduces
the unit's list, :data:`LEAD_WEIGHT`; in its section heading, half; elsewhere in its paragraph, a quarter. The
same coverage decides whether the sources answer at all (:mod:`assistant.answering.evidence`), which units the
extractive answerer quotes (:mod:`assistant.answering.extractive`) and which the chat model is shown
(:mod:`assistant.answering.context`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from assistant.answering.answer_type import IDENTIFIERS, holds
from assistant.answering.query import DIGITS, said
from assistant.data import Chunk, Passage
from assistant.knowledge.chunking import list_lead, split_sentences
from assistant.lang import to_simplified

#: How much a term counts when found in the line that introduces an item's list (截至2023年9月： over
#: 科研人员3000余人) rather than in the item itself. On the tune split 0.5 → facts 90.0%, 0.75 and 1.0 → 91.2%;
#: below 1 the item's own words stay ahead.
LEAD_WEIGHT = 0.75


#: How much more a sentence stating the identifier asked for (a document number, a phone number, an address:
#: ``answer_type.IDENTIFIERS``) gains than one stating a date or a figure of the kind asked. Dates and figures
#: are in many sentences, most about something else; an identifier is in few. On the tune split 1 → 3: facts
#: 93.8 → 95.0%; 3 for every kind: a date from another document won on the team's questions.
IDENTIFIER_FACTOR = 3.0


@dataclass(frozen=True)
class Unit:
    """One quotable sentence or list line of a passage, with its document offsets and score."""

    passage_index: int
    start: int
    end: int
    text: str
    score: float  # what ranks it: terms and meaning mixed
    coverage: float = 0.0  # the weighted share of the question's terms it holds (the evidence score)
    #: Where the line introducing its list starts, when that line holds terms the unit lacks (the quote then
    #: starts there: 截至2023年9月： … 科研人员3000余人。 says when).
    lead_start: int | None = None


def coverage(text: str, terms: Mapping[str, float], context: str = "", passage: str = "", lead: str = "") -> float:
    """Weighted share of ``terms`` found in ``text`` (full weight), else in the ``lead`` line that introduces
    the list it is an item of (:data:`LEAD_WEIGHT`), its section heading ``context`` (half) or elsewhere in
    its ``passage`` (a quarter: the paragraph's topic sentence)."""
    total = sum(terms.values())
    if total <= 0:
        return 0.0
    text = to_simplified(text).lower()
    context = to_simplified(context).lower()
    passage = to_simplified(passage).lower()
    lead = to_simplified(lead).lower()
    got = 0.0
    for t, w in terms.items():
        # a term keyed with its equivalent wordings (any of them will do), not said inside a rival word
        if said(t, text):
            got += w
        elif lead and said(t, lead):
            got += LEAD_WEIGHT * w
        elif said(t, context):
            got += 0.5 * w
        elif said(t, passage):
            got += 0.25 * w
    return got / total


def topical_coverage(units: Sequence[Unit], passages: Sequence[Passage], terms: Mapping[str, float],
                     paragraph_of: Callable[[Chunk], str] | None = None) -> float:
    """The best coverage of the question's terms other than figures, over all units.

    A year or an amount alone must not carry an answer: "河套合作区2024年的GDP是多少？" matches many lines
    about 2024, none about GDP.
    """
    words = {t: w for t, w in terms.items() if not DIGITS.match(t)}
    if not words:
        return 1.0
    contexts: dict[int, tuple[str, str]] = {}  # per passage, not per unit: paragraph_of walks the index
    for i, p in enumerate(passages):
        c = p.chunk
        contexts[i] = (" ".join(c.section), (paragraph_of(c) + "\n" if paragraph_of else "") + c.text)
    return max((coverage(u.text, words, *contexts[u.passage_index]) for u in units), default=0.0)


#: How close a sentence is in meaning to the question, by (passage index, sentence start), in [0, 1].
Meaning = Callable[[int, int], float]


def units_of(passages: Sequence[Passage], terms: Mapping[str, float],
             paragraph_of: Callable[[Chunk], str] | None = None, meaning: Meaning | None = None,
             weight: float = 0.0, kinds: Collection[str] = (), kind_bonus: float = 0.0) -> list[Unit]:
    """Every sentence/list line of the passages, scored. Rank breaks ties: earlier passages win.

    ``paragraph_of(chunk)`` gives the rest of the paragraph a chunk was cut from (a long paragraph is
    split by the token budget), so a sentence keeps its paragraph's topic sentence as context. A unit's
    score mixes its term coverage with its ``meaning`` (weight ``weight``), plus ``kind_bonus`` when it
    states an answer of a kind the question asks for (``kinds``: a date, an amount; see answer_type).
    """
    found: list[tuple[int, int, int, str, float, float, float, int | None]] = []
    for i, p in enumerate(passages):
        c = p.chunk
        ctx = " ".join(c.section)
        paragraph = (paragraph_of(c) + "\n" if paragraph_of else "") + c.text
        prior = 0.05 / (i + 1)
        for s, e in split_sentences(c.text, base=c.start):
            text = c.text[s - c.start : e - c.start]
            if len(text.strip(" -*0123456789.、（）()")) < 4:
                continue
            covered = coverage(text, terms, ctx, paragraph)
            lead_at = list_lead(c.text, s - c.start)
            lead_start = None
            if lead_at is not None:
                with_lead = coverage(text, terms, ctx, paragraph, c.text[lead_at[0] : lead_at[1]])
                if with_lead > covered:
                    covered, lead_start = with_lead, c.start + lead_at[0]
            found.append((i, s, e, text, covered, prior, meaning(i, s) if meaning is not None else 0.0, lead_start))
    # The same sentence means the same in every source that has it (its headings differ, not its words).
    same: dict[str, float] = {}
    for _, _, _, text, _, _, m, _ in found:
        same[text] = max(m, same.get(text, m))
    return [Unit(i, s, e, text, (1 - weight) * covered + weight * same[text] + prior
                 + _bonus(text, kinds, kind_bonus), covered + prior, lead_start)
            for i, s, e, text, covered, prior, _, lead_start in found]


def _bonus(text: str, kinds: Collection[str], bonus: float) -> float:
    """``bonus`` when ``text`` states an answer of a kind asked for, more when it is an identifier."""
    held = [k for k in kinds if holds(text, k)]
    return bonus * IDENTIFIER_FACTOR if any(k in IDENTIFIERS for k in held) else bonus if held else 0.0
