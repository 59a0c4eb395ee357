"""The offline answerer: quote the source sentences that answer the question, each with its marker.

No text is generated. The question's content terms (jieba tokens, Traditional folded to Simplified,
English mapped through the glossary) are weighted by their IDF in the corpus; every sentence (or list
line) of the retrieved passages is scored by the weighted share of those terms it contains, its section
heading counting half. The best sentences are quoted; when the question asks for a list, the whole list is
kept (the passage, and its numbered sibling items). The same coverage score decides whether the sources
answer at all: see :func:`coverage`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.chunking import split_sentences
from assistant.data import Chunk, Passage
from assistant.lang import to_simplified
from assistant.lexical import tokenize

IdfFn = Callable[[str], float]

_LIST_QUESTION = re.compile(
    r"哪些|哪几|哪[两三四五六七八九十]|有几|几个|几项|几方面|分别|包括|包含|列出|列举|清单|什么措施|哪方面"
    r"|\bwhich\b.*\b(are|were)\b|\bwhat are\b|\blist\b|\bwhich\b.*s\b", re.I)
_LATIN = re.compile(r"^[a-z]+$")
_UNREAD = re.compile(r"未读到|未找到|没有找到|未核实|待核|截断|不完整|未作补写|不作补写")
_DISAGREE = re.compile(r"不一致|分歧|说法不一|并列于此|存在出入")


@dataclass(frozen=True)
class Unit:
    """One quotable sentence or list line of a passage, with its document offsets and score."""

    passage_index: int
    start: int
    end: int
    text: str
    score: float


def is_list_question(question: str) -> bool:
    """Does the question ask for several items (哪些, 分别, which … are)?"""
    return bool(_LIST_QUESTION.search(to_simplified(question)))


def question_terms(query_text: str, idf: IdfFn, known: Callable[[str], bool]) -> dict[str, float]:
    """Content terms of the (expanded, Simplified) query with their IDF weights.

    Latin words the corpus never uses are dropped (an English question is matched through its glossary
    terms, not its English words). An unseen Chinese compound whose parts are also terms is dropped too:
    ``重点任务`` counts through ``重点`` and ``任务``.
    """
    tokens = list(dict.fromkeys(tokenize(query_text)))
    terms: dict[str, float] = {}
    for t in tokens:
        if _LATIN.match(t) and not known(t):
            continue
        if not known(t) and len(t) > 2 and sum(1 for o in tokens if o != t and o in t) >= 2:
            continue
        terms[t] = idf(t)
    return terms


def coverage(text: str, terms: dict[str, float], context: str = "") -> float:
    """Weighted share of ``terms`` found in ``text`` (full weight) or ``context`` (half weight)."""
    total = sum(terms.values())
    if total <= 0:
        return 0.0
    text = to_simplified(text).lower()
    context = to_simplified(context).lower()
    got = sum(w if t in text else (0.5 * w if t in context else 0.0) for t, w in terms.items())
    return got / total


def units_of(passages: Sequence[Passage], terms: dict[str, float]) -> list[Unit]:
    """Every sentence/list line of the passages, scored. Rank breaks ties: earlier passages win."""
    units = []
    for i, p in enumerate(passages):
        c = p.chunk
        ctx = " ".join(c.section)
        prior = 0.05 / (i + 1)
        for s, e in split_sentences(c.text, base=c.start):
            text = c.text[s - c.start : e - c.start]
            if len(text.strip(" -*0123456789.、（）()")) < 4:
                continue
            units.append(Unit(i, s, e, text, coverage(text, terms, ctx) + prior))
    return units


@dataclass(frozen=True)
class Quote:
    """A span of one passage to quote."""

    passage_index: int
    start: int
    end: int


def select_quotes(question: str, passages: Sequence[Passage], terms: dict[str, float], *,
                  max_quotes: int = 4, relative: float = 0.8) -> tuple[list[Quote], float]:
    """The spans to quote, best first, and the best unit's score (0 when nothing matches)."""
    units = units_of(passages, terms)
    if not units:
        return [], 0.0
    ranked = sorted(units, key=lambda u: -u.score)
    best = ranked[0].score
    wants_list = is_list_question(question)
    quotes: list[Quote] = []
    used_passages: set[int] = set()
    for u in ranked:
        if u.score < best * relative or len(quotes) >= max_quotes:
            break
        if u.passage_index in used_passages:
            continue
        used_passages.add(u.passage_index)
        c = passages[u.passage_index].chunk
        start, end = u.start, u.end
        if wants_list or u.text.rstrip().endswith(("：", ":")):
            # Keep the list whole: quote from this sentence to the end of the passage.
            end = c.end
            if wants_list:
                start = c.start
        quotes.append(Quote(u.passage_index, start, end))
    return quotes, best


def siblings(chunk: Chunk, chunks: Sequence[Chunk], limit: int = 8) -> list[Chunk]:
    """The numbered items around ``chunk`` in its section (``… › 1.``, ``… › 2.``), in order.

    Used to keep a list whole when it is spread over several chunks.
    """
    if len(chunk.section) < 2 or not re.match(r"^[\d（(第一二三四五六七八九十]", chunk.section[-1]):
        return [chunk]
    parent = chunk.section[:-1]
    same = [c for c in chunks if c.source == chunk.source and c.section[:-1] == parent
            and len(c.section) == len(chunk.section)]
    return same[:limit] if chunk in same else [chunk]


def notes_for(texts: Sequence[str]) -> tuple[bool, bool]:
    """(the quotes mention a gap — 未读到 …, the quotes mention disagreeing sources)."""
    joined = "\n".join(texts)
    return bool(_UNREAD.search(joined)), bool(_DISAGREE.search(joined))
