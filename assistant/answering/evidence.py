"""Do the retrieved passages answer the question? Evidence features, a calibrated verdict, and the
sentences worth quoting.

Every sentence of the retrieved passages is scored by its term coverage (the question's content terms,
weighted by how specific they are in the corpus; see :func:`assistant.answering.extractive.select_quotes`)
and by its meaning: the cosine of its stored vector (:mod:`assistant.knowledge.sentences`) with the
question's. From these and the retrieval scores come a few features — best coverage, best and top-3
sentence similarity, best passage similarity, the share of the question's weight on words the corpus never
uses, the share of an English question's words the glossary cannot carry over, whether it is English —
and the logistic model of :mod:`assistant.answering.answerability` turns them into the probability that
the sources answer (the answer's ``confidence``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.answering import answer_type
from assistant.answering.answer_type import holds
from assistant.answering.answerability import AnswerabilityModel
from assistant.answering.audiences import Audiences
from assistant.answering.extractive import UNREAD, Quote, select_quotes
from assistant.answering.query import DIGITS, Query
from assistant.answering.units import coverage as term_coverage
from assistant.answering.unread import UnreadDetails, line_saying
from assistant.data import Passage
from assistant.knowledge.reader import IndexReader

#: Without a fitted model: below this share of the question's (IDF-weighted) terms found in the best
#: sentence, the sources are taken not to answer.
ANSWERABLE_MIN_COVERAGE = 0.5
#: The same, when a chat model answers (and can decline by itself): only clearly off-topic questions are declined.
OFF_TOPIC_MIN_COVERAGE = 0.25
#: How much a sentence's meaning counts against its term coverage when choosing what to quote.
MEANING_WEIGHT = 0.3
#: How much stating the kind of answer asked for (a date, an amount) lifts a sentence.
KIND_BONUS = 0.1
#: The answerability model's features (:meth:`EvidenceJudge.features`). ``covered``: the term coverage, with an
#: English question's words that no glossary entry reaches counted as not covered (a hiking trail in Hong Kong
#: covers Hong Kong, and nothing else). On the tune split's cross-validation (trained with the team's questions)
#: it and no separate ``unmatched`` took the held-out log-loss from 0.291 to 0.277.
FEATURES = ("covered", "sentence_top", "sentence_top3", "dense_top", "unseen", "latin", "kind_missing")


@dataclass(frozen=True)
class Evidence:
    """What the passages offer for a question: the spans worth quoting, best first, and the verdict."""

    quotes: tuple[Quote, ...]
    coverage: float
    answerable: bool
    confidence: float | None = None
    features: dict[str, float] = field(default_factory=dict)
    #: Answerable by the strict verdict too (the extractive one); differs from ``answerable`` only when the
    #: assessment was lenient. A quoted fallback for a question that only the lenient verdict let through
    #: declines instead.
    strict: bool = True
    #: Where a passage says the sources could not read what is asked, when ``missing`` is ``unread``: the
    #: passage (its index among the passages) and the line's document offsets.
    gap: tuple[int, tuple[int, int]] | None = None
    #: The specific detail asked for (``date``, ``money``, ``contact``, or a ``year`` the question names) that
    #: no quote states: the strict verdict is then "does not answer", whatever the confidence (the decline
    #: names what is missing).
    missing: str | None = None
    #: When ``missing`` is ``place`` or ``group``: the places, or the groups a rule is asked for, that no quote
    #: names, each as (Chinese, English name).
    places: tuple[tuple[str, str], ...] = ()


class EvidenceJudge:
    """Scores the passages' sentences against a :class:`Query` and decides whether they answer it."""

    def __init__(self, reader: IndexReader, model: AnswerabilityModel | None = None, *,
                 meaning_weight: float = MEANING_WEIGHT, kind_bonus: float = KIND_BONUS,
                 min_coverage: float = ANSWERABLE_MIN_COVERAGE, unread: UnreadDetails | None = None,
                 elsewhere: Mapping[str, Sequence[str]] | None = None, audiences: Audiences | None = None) -> None:
        self.reader = reader
        self.elsewhere = elsewhere or {}  # other zones and their English names (index/elsewhere.txt)
        self.audiences = audiences or Audiences()  # groups a rule may be asked for (index/audiences.tsv)
        self.model = model
        self.unread = unread or UnreadDetails()
        self.meaning_weight = meaning_weight
        self.kind_bonus = kind_bonus
        self.min_coverage = min_coverage

    def similarities(self, passages: Sequence[Passage], vectors: Sequence[np.ndarray]) -> dict[tuple[int, int], float]:
        """Cosine of every stored sentence vector of the passages with the query's best vector."""
        sims: dict[tuple[int, int], float] = {}
        if not vectors:
            return sims
        query = np.stack([np.asarray(v, dtype=np.float32) for v in vectors])
        for i, p in enumerate(passages):
            spans, matrix = self.reader.sentences(p.chunk)
            if len(spans) and matrix.shape[1] == query.shape[1]:
                best = (matrix @ query.T).max(axis=1)
                sims.update({(i, s): float(x) for (s, _), x in zip(spans, best, strict=True)})
        return sims

    def features(self, query: Query, passages: Sequence[Passage], coverage: float,
                 sims: dict[tuple[int, int], float], quoted: str = "", kinds: set[str] | None = None
                 ) -> dict[str, float]:
        top = sorted(sims.values(), reverse=True)
        total = sum(query.terms.values()) or 1.0
        unseen = sum(w for t, w in query.terms.items()
                     if not DIGITS.match(t) and not any(self.reader.known(a) for a in t.split("|")))
        return {"coverage": coverage, "covered": coverage * (1.0 - query.unmatched),
                "sentence_top": top[0] if top else 0.0,
                "sentence_top3": float(np.mean(top[:3])) if top else 0.0,
                "dense_top": max((p.dense_score or 0.0 for p in passages), default=0.0),
                "unseen": unseen / total, "unmatched": query.unmatched, "latin": float(query.latin),
                # The question asks for a date, an amount, a contact … that the best quotes do not state.
                "kind_missing": float(any(not holds(quoted, k) and k not in answer_type.QUOTING_ONLY
                                          for k in (answer_type.asked(query.asked) if kinds is None else kinds)))}

    def assess(self, query: Query, passages: Sequence[Passage], vectors: Sequence[np.ndarray] = (), *,
               lenient: bool = False) -> Evidence:
        """The evidence for ``query``. ``lenient`` (a chat model answers, and says ``NO_ANSWER`` when the
        passages do not answer): only a clearly off-topic question is judged unanswerable — the model's
        off-topic threshold (:attr:`AnswerabilityModel.off_topic_threshold`) instead of its threshold."""
        sims = self.similarities(passages, vectors)
        lo, hi = (min(sims.values()), max(sims.values())) if sims else (0.0, 0.0)

        def meaning(i: int, start: int) -> float:  # normalised over this question's sentences
            return (sims.get((i, start), lo) - lo) / (hi - lo) if hi > lo else 0.0

        kinds = answer_type.asked(query.asked)
        quotes, coverage = select_quotes(query.asked, passages, query.terms,
                                         paragraph_of=self.reader.paragraph_before, meaning=meaning if sims else None,
                                         weight=self.meaning_weight if sims else 0.0, kinds=kinds,
                                         kind_bonus=self.kind_bonus)
        quoted = "\n".join(_quoted(passages[q.passage_index], q) for q in quotes[:2])
        values = self.features(query, passages, coverage, sims, quoted, kinds)
        missing = next((k for k in answer_type.SPECIFIC if k in kinds and not holds(quoted, k)), None)
        if missing is None and answer_type.years_not_stated(query.asked, quoted):
            missing = "year"
        places = answer_type.places_not_stated(query.asked, query.terms, quoted, self.elsewhere)
        if missing is None and places:
            missing = "place"
        named = tuple((p, next(iter(self.elsewhere[p]), "")) for p in places) if missing == "place" else ()
        groups = self.audiences.not_stated(query.asked, quoted)
        if missing is None and groups:
            missing, named = "group", tuple((g.name, g.english) for g in groups)
        # A line saying the sources could not read what is asked says more than "the date is not given".
        at = self.unread_line(query, passages, quotes)
        if at is not None:
            missing = "unread"
        if self.model is None:
            floor = OFF_TOPIC_MIN_COVERAGE if lenient else self.min_coverage
            strict = bool(query.terms) and coverage >= self.min_coverage and missing is None
            answerable = bool(query.terms) and coverage >= floor and (lenient or missing is None)
            return Evidence(tuple(quotes), coverage, answerable, None, values, strict=strict, gap=at,
                            missing=missing, places=named)
        confidence = self.model.probability(values)
        threshold = self.model.threshold
        if lenient and self.model.off_topic_threshold is not None:
            threshold = min(threshold, self.model.off_topic_threshold)
        # Lenient (a chat model decides, and says NO_ANSWER): a missing detail is the model's to notice.
        answerable = bool(query.terms) and confidence >= threshold and (lenient or missing is None)
        strict = bool(query.terms) and confidence >= self.model.threshold and missing is None
        return Evidence(tuple(quotes), coverage, answerable, confidence, values, strict=strict, gap=at,
                        missing=missing, places=named)

    def unread_line(self, query: Query, passages: Sequence[Passage], quotes: Sequence[Quote]
                    ) -> tuple[int, tuple[int, int]] | None:
        """Where the passages say the sources could not read what ``query`` asks: the best quote, in the clause
        naming the question's weightiest words (:func:`marks_gap`); or the best quote's passage or the best
        ranked one, naming a detail the question asks for (the amount, the procedure, the conditions: see
        :class:`~assistant.answering.unread.UnreadDetails`). The passage's index and the line's offsets."""
        if not quotes:
            return None
        first = quotes[0]
        gap = marks_gap(_quoted(passages[first.passage_index], first), query.terms, self.reader.known)
        if gap is not None:
            return first.passage_index, (first.start + gap[0], first.start + gap[1])
        for i in dict.fromkeys((first.passage_index, 0)):
            chunk = passages[i].chunk
            line = self.unread.gap(query.asked, chunk.text)
            if line is not None:
                return i, (chunk.start + line[0], chunk.start + line[1])
        return None


_CLAUSE = re.compile(r"[，。；！？,;（）()]")


def marks_gap(quote: str, terms: Mapping[str, float], known: Callable[[str], bool] = lambda t: True
              ) -> tuple[int, int] | None:
    """Where ``quote`` says, in the clause that names what is asked, that the sources did not read it
    (具体条款、资助标准和申报流程未读到 for 资助标准是多少): the span of that line in ``quote``, or None. Then they
    do not answer it. What is asked is the question's weightiest words the sources use (``known``; at least
    half the top weight): a caveat naming a common word of the question (规划这一部分的原文标题未核实) is no gap
    in the answer."""
    used = {t: w for t, w in terms.items() if not DIGITS.match(t) and any(known(a) for a in t.split("|"))}
    if not used:
        return None
    words = [a for t, w in used.items() if w >= 0.5 * max(used.values()) for a in t.split("|")]
    return line_saying(quote, _CLAUSE, lambda clause: UNREAD.search(clause) is not None
                       and any(a in clause for a in words))


def speaks_to(terms: Mapping[str, float], passages: Sequence[Passage], evidence: Evidence, n: int = 2) -> bool:
    """Do the first ``n`` quotes of ``evidence`` state at least the off-topic share
    (:data:`OFF_TOPIC_MIN_COVERAGE`) of ``terms`` (a quarter for a term found only elsewhere in the quote's
    passage)? Asked of evidence gathered for a longer question than ``terms`` come from (a follow-up joined
    to the question before it): whether what *these* words ask is spoken to, and not only the other question."""
    return max((term_coverage(_quoted(passages[q.passage_index], q), terms,
                              passage=passages[q.passage_index].chunk.text)
                for q in evidence.quotes[:n]), default=0.0) >= OFF_TOPIC_MIN_COVERAGE


def _quoted(passage: Passage, quote: Quote) -> str:
    c = passage.chunk
    return c.text[quote.start - c.start : quote.end - c.start]
