"""Do the retrieved passages answer the question? The evidence decision, apart from how it is quoted.

Today's judge is coverage: the question's content terms, weighted by how specific they are in the
corpus, must be found in one retrieved sentence (its section heading and paragraph counting less), and
its words — not just its figures — must be covered somewhere (see
:func:`assistant.answering.extractive.select_quotes`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.answering.extractive import Quote, select_quotes
from assistant.answering.query import Query
from assistant.data import Chunk, Passage

#: Below this share of the question's (IDF-weighted) terms found in the best sentence, the sources
#: are taken not to answer. Measured on the dev set: answerable questions score ≥ 0.6, unanswerable ≤ 0.45.
ANSWERABLE_MIN_COVERAGE = 0.5


@dataclass(frozen=True)
class Evidence:
    """What the passages offer for a question: the spans worth quoting, best first, and the verdict."""

    quotes: tuple[Quote, ...]
    coverage: float
    answerable: bool


class EvidenceJudge:
    """Scores the passages' sentences against a :class:`Query` and decides whether they answer it."""

    def __init__(self, paragraph_of: Callable[[Chunk], str] | None = None,
                 min_coverage: float = ANSWERABLE_MIN_COVERAGE) -> None:
        self.paragraph_of = paragraph_of
        self.min_coverage = min_coverage

    def assess(self, query: Query, passages: Sequence[Passage]) -> Evidence:
        quotes, best = select_quotes(query.standalone, passages, query.terms, paragraph_of=self.paragraph_of)
        answerable = bool(query.terms) and best >= self.min_coverage
        return Evidence(tuple(quotes), best, answerable)
