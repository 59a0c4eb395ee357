"""The offline answerer: quote the source sentences that answer the question, each with its marker.

No text is generated. The question's content terms (jieba tokens, Traditional folded to Simplified,
English mapped through the glossary) are weighted by their IDF in the corpus; every sentence (or list
line) of the retrieved passages is scored by the weighted share of those terms it contains, its section
heading counting half. The best sentences are quoted; when the question asks for a list, the whole list is
kept (the passage, and its numbered sibling items). The same coverage score decides whether the sources
answer at all: see :func:`assistant.answering.units.coverage`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from assistant.answering.answer_type import holds
from assistant.answering.citations import figures, make_citation
from assistant.answering.lead import english_lead
from assistant.answering.query import Query
from assistant.answering.units import Meaning, Unit, coverage, topical_coverage, units_of
from assistant.data import Answer, Chunk, Passage, Usage
from assistant.knowledge.chunking import (
    is_item,
    last_item_number,
    last_line_number,
    list_continuation,
)
from assistant.knowledge.reader import IndexReader
from assistant.lang import to_simplified, to_traditional
from assistant.messages import text as message

_LIST_QUESTION = re.compile(
    r"哪些|哪几|哪[两三四五六七八九十]|有几|几个|几项|几方面|分别|包括|包含|列出|列举|清单|什么措施|哪方面"
    r"|[两二三四五六七八九十]+(?:大|个|项|方面|类|种|条|点|部分|阶段|片区)"
    r"|\bwhich\b.*\b(are|were)\b|\bwhat are\b|\blist\b|\bwhich\b.*s\b", re.I)
#: The evidence score is capped at (coverage of the non-figure terms) / TOPICAL_SHARE: with the answerable
#: threshold at 0.5, the words of a question (not just its year) must be 35 % covered somewhere.
TOPICAL_SHARE = 0.7
#: How the sources mark what they could not read or verify.
UNREAD = re.compile(r"未读到|未找到|没有找到|未核实|待核|截断|不完整|未作补写|不作补写")
_DISAGREE = re.compile(r"不一致|分歧|说法不一|并列于此|存在出入")


def is_list_question(question: str) -> bool:
    """Does the question ask for several items (哪些, 分别, which … are)?"""
    return bool(_LIST_QUESTION.search(to_simplified(question)))


@dataclass(frozen=True)
class Quote:
    """A span of one passage to quote (document offsets); ``whole_list`` asks for its sibling items too."""

    passage_index: int
    start: int
    end: int
    whole_list: bool = False
    continues: bool = False  # the quoted sentence runs on into the next chunk


_FULL_STOP = re.compile(r"[。！？!?]")


def _is_list_shaped(text: str) -> bool:
    return sum(1 for line in text.splitlines() if is_item(line)) >= 2


def sentence_end(text: str, offset: int) -> int:
    """Index just past the full stop (。！？ or line end) at or after ``offset``."""
    m = _FULL_STOP.search(text, offset)
    line_end = text.find("\n", offset)
    candidates = [x for x in ((m.end() if m else -1), line_end) if x >= 0]
    return min(candidates) if candidates else len(text)


def sentence_start(text: str, offset: int) -> int:
    """Index of the first character of the sentence that contains ``offset``."""
    head = text[:offset]
    cut = max(head.rfind(ch) for ch in "。！？!?\n")
    start = cut + 1
    while start < offset and text[start] in " \t":
        start += 1
    return start


#: A sentence opening with this, that or its (该试点, 此类, 上述, 这类, 其) speaks of what the sentence before it names.
_ANAPHOR = re.compile(r"(?:该|此|上述|这|其)")


def with_referent(text: str, offset: int) -> int:
    """Where to start quoting the sentence at ``offset`` so that it says what it is about: a sentence that
    opens with an anaphor (该试点为外资科研机构汇入科研经费开通了渠道) brings the sentence before it in
    its line (“科汇通”试点：…), and so on while that one opens with one too."""
    while True:
        line = text.rfind("\n", 0, offset) + 1
        if offset <= line or not _ANAPHOR.match(text, offset):
            return offset
        offset = sentence_start(text, offset - 1)


#: The longest list item quoted whole when one of its sentences is chosen (characters): 94% of the sources'
#: items (median 40). On the tune split 0, 80, 120, 160 and 200 measure the same; the team's questions on
#: boundaries (北边到哪, 西面到边度为界) need the item's second sentence.
ITEM_LIMIT = 120


def whole_item(text: str, start: int, end: int, limit: int | None = None) -> tuple[int, int]:
    """The span of the list item that ``start``–``end`` lies in, when it is one line of at most ``limit``
    characters: 皇岗口岸片区：1.67平方公里。东到华强南路，…北到滨河大道。 is one fact, its name and bounds."""
    limit = ITEM_LIMIT if limit is None else limit
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    line = text[line_start:line_end]
    if not is_item(line) or len(line.strip()) > limit or line.rstrip().endswith(("：", ":")):
        return start, end  # a long item, or one that introduces a list: its sentence alone
    return line_start + len(line) - len(line.lstrip(" \t")), line_end


def select_quotes(question: str, passages: Sequence[Passage], terms: Mapping[str, float], *,
                  paragraph_of: Callable[[Chunk], str] | None = None, max_quotes: int = 4, relative: float = 0.8,
                  other_source_relative: float = 0.75, corroboration_relative: float = 0.55,
                  meaning: Meaning | None = None,
                  weight: float = 0.0, kinds: Collection[str] = (), kind_bonus: float = 0.0
                  ) -> tuple[list[Quote], float]:
    """The spans to quote, best first, and the evidence score: the best unit's term coverage, capped by how
    well the non-figure terms are covered (0 when nothing matches). Units rank by terms and ``meaning``.

    Units within ``relative`` of the best one are quoted, and each other source's best unit within
    ``other_source_relative`` — or within ``corroboration_relative`` when it states the best unit's own
    figure (an area, an amount, a document number: the same fact restated, which an asker can check
    against both): each source's best passage first, one span per passage covering its units.
    A sentence that introduces a list (ends with ：) brings the list; for a list question a list-shaped
    passage is quoted whole, a sentence from full stop to full stop (its ；-separated items included), and
    a numbered item whose section heading names what is asked brings its sibling items.
    """
    units = units_of(passages, terms, paragraph_of, meaning, weight, kinds, kind_bonus)
    if not units:
        return [], 0.0
    ranked = sorted(units, key=lambda u: -u.score)
    cap = topical_coverage(units, passages, terms, paragraph_of) / TOPICAL_SHARE
    evidence = min(max(u.coverage for u in units), cap)
    best = min(ranked[0].score, cap)  # what the other quoted units are measured against
    wants_list = is_list_question(question)
    good: dict[int, list[Unit]] = {}
    for u in ranked:
        if u.score >= best * relative:
            good.setdefault(u.passage_index, []).append(u)
    # Each other source's best sentence too, if it is close enough: sources restate and check each other.
    firsts: dict[str, int] = {}
    for u in ranked:
        source = passages[u.passage_index].chunk.group
        if source not in firsts and u.score >= best * other_source_relative:
            firsts[source] = u.passage_index
            good.setdefault(u.passage_index, []).append(u)
    # Another source stating the best sentence's own figure (3.89, 〔2023〕12号) restates the same fact.
    claimed = _key_figures(ranked[0].text)
    for u in ranked if claimed else ():
        source = passages[u.passage_index].chunk.group
        if source not in firsts and u.score >= best * corroboration_relative and claimed & _key_figures(u.text):
            firsts[source] = u.passage_index
            good.setdefault(u.passage_index, []).append(u)
    _add_detail(ranked, kinds, good, lambda i: passages[i].chunk.group)
    order = _detail_early(list(dict.fromkeys([*firsts.values(), *good])), kinds, good)
    quotes: list[Quote] = []
    for i in order[:max_quotes]:
        c = passages[i].chunk
        chosen = good[i]
        start, end = min(u.start for u in chosen), max(u.end for u in chosen)
        # An item whose list's lead line says what the item leaves out (the date, the subject) is quoted from it.
        start = min([start, *(u.lead_start for u in chosen if u.lead_start is not None)])
        start = c.start + with_referent(c.text, start - c.start)
        start, end = (c.start + x for x in whole_item(c.text, start - c.start, end - c.start))
        whole_list = False
        if c.text[: end - c.start].rstrip().endswith(("：", ":")):
            end = c.end
        elif wants_list:
            item = bool(c.section) and bool(re.match(r"^(\d|（\d)", c.section[-1]))
            if _is_list_shaped(c.text) or item:  # a list, or one numbered item of it: quoted whole
                start, end = c.start, c.end
            else:
                start = c.start + sentence_start(c.text, start - c.start)
                end = c.start + sentence_end(c.text, end - c.start - 1)
            # Numbered items under a heading that names what is asked (（二）三大发展定位) form the list.
            parent = c.section[-2] if len(c.section) >= 2 else ""
            whole_list = item and coverage(parent, terms) >= 0.5
        # Cut by the chunk's end: a list sentence without its full stop, or a numbered list whose next item
        # opens the next chunk (the list is quoted whole either way; see ExtractiveAnswerer.spans).
        continues = end == c.end and ((wants_list and not _FULL_STOP.search(c.text[-2:]))
                                      or last_item_number(c.text[start - c.start:]) is not None)
        quotes.append(Quote(i, start, end, whole_list, continues))
    return quotes, evidence


#: The least share of the question's terms (its headings counted at half) that a sentence brought in for the
#: time asked must hold itself. On the tune split 0.3 to 1.0 measure the same; 0.15 answered a question
#: about another document's date.
DETAIL_FLOOR = 0.3
#: The kinds of detail fetched from the best sentence's policy when the chosen sentences lack it: the hours of
#: a day and how long the policy runs (its 有效期 line). A year or an amount turns up in many lines of a policy
#: that do not answer what was asked (条例 "哪天审议通过" is not answered by "2025年已有12家机构使用").
FETCHED_DETAILS = ("time", "validity")


def _add_detail(ranked: Sequence[Unit], kinds: Collection[str], good: dict[int, list[Unit]],
                group_of: Callable[[int], str]) -> None:
    """The detail asked for (:data:`FETCHED_DETAILS`), from the best sentence's own document or policy, when
    no chosen sentence states it: "跨境直通巴士几点发车" wants the bus policy's timetable line, whose own words
    are few."""
    if not ranked:
        return
    # the best sentence's own document, then those of the other quoted sentences
    homes = list(dict.fromkeys([group_of(ranked[0].passage_index), *(group_of(i) for i in good)]))
    for kind in (k for k in FETCHED_DETAILS if k in kinds):
        if any(holds(u.text, kind) for units in good.values() for u in units):
            continue
        detail = min((u for u in ranked if group_of(u.passage_index) in homes and u.coverage >= DETAIL_FLOOR
                      and holds(u.text, kind)), key=lambda u: homes.index(group_of(u.passage_index)), default=None)
        if detail is not None:
            good.setdefault(detail.passage_index, []).append(detail)


def _detail_early(order: list[int], kinds: Collection[str], good: Mapping[int, Sequence[Unit]]) -> list[int]:
    """``order`` with the first chosen passage that states the detail asked for (:data:`FETCHED_DETAILS`)
    quoted second at the latest: the answer to "what times does it leave" is the timetable line, not a third
    quote after two about the bus (and the quotes an answer leads with are those weighed for the detail)."""
    for kind in (k for k in FETCHED_DETAILS if k in kinds):
        holding = next((i for i in order if any(holds(u.text, kind) for u in good[i])), None)
        if holding is not None and order.index(holding) > 1:
            order = [*order[:1], holding, *(i for i in order[1:] if i != holding)]
    return order


_YEAR = re.compile(r"(?:19|20)\d\d")


def _key_figures(text: str) -> set[str]:
    """The figures of ``text`` that identify a fact: amounts, areas, counts, document numbers — not a bare
    year or a one-digit count, which many unrelated sentences share."""
    return {f for f in figures(text) if len(f) > 1 and not _YEAR.fullmatch(f)}


def notes_for(texts: Sequence[str]) -> tuple[list[int], list[int]]:
    """(the positions of the quotes that mark a gap — 未读到 …, of those that record disagreeing accounts).

    >>> notes_for(["3.89平方公里。", "面积说法不一：3.1万平方米。", "具体门牌未读到。"])
    ([2], [1])
    """
    return ([i for i, t in enumerate(texts) if UNREAD.search(t)],
            [i for i, t in enumerate(texts) if _DISAGREE.search(t)])


Span = tuple[Passage, tuple[int, int]]


class ExtractiveAnswerer:
    """Turns chosen quotes into a cited answer: lists kept whole, a sentence cut by a chunk end finished,
    each distinct quote one bullet with its markers, notes when the sources mark gaps or disagree."""

    def __init__(self, reader: IndexReader, count_tokens: Callable[[str], int],
                 english: Callable[[str], str | None] = lambda term: None) -> None:
        self.reader = reader
        self.count_tokens = count_tokens
        self.english = english  # Chinese term → the glossary's English phrase, for the English lead line

    def spans(self, passages: Sequence[Passage], quotes: Sequence[Quote]) -> list[Span]:
        """Quotes as (passage, span); a quoted numbered item brings its sibling items (a list kept whole)."""
        out: list[Span] = []
        seen: set[str] = set()
        for q in quotes:
            p = passages[q.passage_index]
            group = self.reader.siblings(p.chunk) if q.whole_list else [p.chunk]
            for c in group:
                if c.id in seen:
                    continue
                seen.add(c.id)
                if c.id == p.chunk.id:
                    out.append((p, (q.start, q.end)))
                else:
                    out.append((Passage(chunk=c, score=p.score), (c.start, c.end)))
            if q.continues:
                out.extend(self._continuation(p, q, seen))
        return out

    def _continuation(self, p: Passage, q: Quote, seen: set[str], limit: int = 4) -> list[Span]:
        """What the next chunks carry on of a quote cut by the chunk budget: a numbered list's next items
        (over as many chunks as it runs, up to ``limit``), or a list sentence up to its full stop."""
        out: list[Span] = []
        chunk, text = p.chunk, p.chunk.text[q.start - p.chunk.start : q.end - p.chunk.start]
        number = last_item_number(text)
        while len(out) < limit:
            nxt = self.reader.next_chunk(chunk)
            if nxt is None or nxt.id in seen:
                break
            length = list_continuation(nxt.text, number) if number is not None and nxt.section == chunk.section else 0
            if not length:
                if not out and not _FULL_STOP.search(chunk.text[-2:]):  # a sentence cut mid-way
                    seen.add(nxt.id)
                    out.append((Passage(chunk=nxt, score=p.score), (nxt.start, nxt.start + sentence_end(nxt.text, 0))))
                break
            seen.add(nxt.id)
            out.append((Passage(chunk=nxt, score=p.score), (nxt.start, nxt.start + length)))
            if length < len(nxt.text.rstrip()):  # the list ends inside this chunk
                break
            number = last_line_number(nxt.text)
            chunk = nxt
        return out

    def quoted_lines(self, passages: Sequence[Passage], quotes: Sequence[Quote]) -> list[str]:
        """The exact source text of every quoted span (to resolve "the second one" in a follow-up)."""
        return [p.chunk.text[s - p.chunk.start : e - p.chunk.start] for p, (s, e) in self.spans(passages, quotes)]

    def answer(self, query: Query, passages: Sequence[Passage], quotes: Sequence[Quote],
               notice: str | None = None) -> Answer:
        """The quoted answer to ``query`` in ``query.lang``'s framing: a Traditional-Chinese asker sees the
        quotes in Traditional characters (the citation keeps the exact Simplified text and offsets, and
        ``meta["shown"]`` what was shown); an English asker gets a lead line naming what they say."""
        lang = query.lang
        citations = [make_citation(n, p, span) for n, (p, span) in enumerate(self.spans(passages, quotes), start=1)]
        if lang == "zh-Hant":
            citations = [dataclasses.replace(c, meta={**c.meta, "shown": to_traditional(c.quote)}) for c in citations]
        unread, disagree = notes_for([c.quote for c in citations])
        # Each note names the quotes it is about: one quote's 说法不一 is not the sources disagreeing on the answer.
        refs = {name: "".join(f"[{citations[i].n}]" for i in at) for name, at in (("unread", unread),
                                                                                ("disagree", disagree))}
        lines = [message("header", lang)]
        if disagree:
            lines.append(message("note.disagree", lang).format(refs=refs["disagree"]))
        # Each quote is a bullet of its own (a quote that is itself a bullet line loses its "- "); the same
        # sentence found in several passages is shown once, with all their markers.
        bullets: dict[str, list[int]] = {}
        for c in citations:
            bullets.setdefault(one_line(c.meta.get("shown", c.quote)).lstrip("-*• "), []).append(c.n)
        if lang == "en":
            lead = english_lead(query.original, [one_line(c.quote) for c in citations], self.english,
                                is_list=is_list_question(query.asked), terms=query.expansion)
            if lead:
                lines.append(lead)
        lines.extend(f"- {quote}{''.join(f'[{n}]' for n in ns)}" for quote, ns in bullets.items())
        if unread:
            lines.append(message("note.unread", lang).format(refs=refs["unread"]))
        text = "\n".join(lines)
        return Answer(question=query.original, text=text, citations=tuple(citations), answerable=True,
                      mode="extractive", lang=lang, passages=tuple(passages), notice=notice,
                      usage=Usage(completion_tokens=self.count_tokens(text)),
                      meta={"standalone": query.standalone, "unread": bool(unread), "disagree": bool(disagree)})


def one_line(text: str) -> str:
    """``text`` with its line breaks folded to single spaces."""
    return re.sub(r"\s*\n\s*", " ", text).strip()
