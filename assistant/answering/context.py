"""What the chat model is shown: pieces of the retrieved passages, as numbered blocks within a token budget.

Three kinds of context (``PARK_LLM_CONTEXT``):

- ``passages``: the top :data:`MAX_PASSAGES` chunks whole, in retrieval order, until the budget is spent;
- ``evidence``: the selected evidence sentences and the next-best ones, at most :data:`MAX_PIECES`;
- ``window``: the selected evidence sentences with the sentence before and after each (their paragraph
  context), then the next-best sentences of the top passages with theirs, until the token budget is spent.

The prompt's cost is mostly these tokens: on 2 cores the local model reads about 70 prompt tokens a second,
so the budget bounds the time to the first token. A block's pieces keep their document order; touching
pieces are one stretch of the source text (what lies between two sentences, a line break, is kept).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from assistant.answering.attribution import Block
from assistant.answering.output_checks import fence
from assistant.answering.query import Query
from assistant.answering.units import Unit, units_of
from assistant.data import Passage

#: Evidence pieces (sentences, list items) given to the model at most ("evidence").
MAX_PIECES = 6
#: Passages whose text the model may be shown ("passages", "window").
MAX_PASSAGES = 4
KINDS = ("evidence", "passages", "window")

Span = tuple[Passage, tuple[int, int]]


def pieces(kind: str, query: Query, passages: Sequence[Passage], spans: Sequence[Span],
           count_tokens: Callable[[str], int], budget: int) -> list[Span]:
    """The spans of passage text to show the model for ``kind`` (see the module docstring)."""
    if kind == "window" and passages:
        return window(query, passages, spans, count_tokens, budget)
    if not spans or kind == "passages":
        return [(p, (p.chunk.start, p.chunk.end)) for p in passages[:MAX_PASSAGES]]
    out = list(spans[:MAX_PIECES])
    units = sorted(units_of(passages, query.terms), key=lambda u: -u.score)
    best = units[0].score if units else 0.0
    for u in units:
        if len(out) >= MAX_PIECES or u.score < 0.5 * best:
            break
        p = passages[u.passage_index]
        if any(q.chunk.id == p.chunk.id and s <= u.start < e for q, (s, e) in out):
            continue
        out.append((p, (u.start, u.end)))
    return out


def window(query: Query, passages: Sequence[Passage], spans: Sequence[Span], count_tokens: Callable[[str], int],
           budget: int) -> list[Span]:
    """The evidence sentences with their neighbours, then the best other sentences with theirs, within
    ``budget`` tokens; whole lists of the evidence (sibling chunks) come in as the evidence does."""
    shown: list[Passage] = []
    for p in [*passages[:MAX_PASSAGES], *(p for p, _ in spans)]:
        if all(p.chunk.id != q.chunk.id for q in shown):
            shown.append(p)
    units = units_of(shown, query.terms)
    by_passage: dict[int, list[Unit]] = {}
    for u in sorted(units, key=lambda u: (u.passage_index, u.start)):
        by_passage.setdefault(u.passage_index, []).append(u)
    position = {(u.passage_index, u.start): k for us in by_passage.values() for k, u in enumerate(us)}
    index = {p.chunk.id: i for i, p in enumerate(shown)}

    def overlaps(u: Unit, span: Span) -> bool:
        p, (s, e) = span
        return index[p.chunk.id] == u.passage_index and u.start < e and s < u.end

    evidence = [u for span in spans for u in by_passage.get(index[span[0].chunk.id], []) if overlaps(u, span)]
    ranked = evidence + sorted((u for u in units if u not in evidence), key=lambda u: -u.score)
    chosen: set[tuple[int, int]] = set()
    opened: set[int] = set()  # passages with a block already (its heading is paid for)
    left = budget
    for u in ranked:
        us = by_passage[u.passage_index]
        k = position[(u.passage_index, u.start)]
        group = [v for v in (us[k], *(us[j] for j in (k - 1, k + 1) if 0 <= j < len(us)))
                 if (v.passage_index, v.start) not in chosen]
        head = 0 if u.passage_index in opened else count_tokens(heading(shown[u.passage_index], 9))
        for take in (group, group[:1]):  # with its neighbours if they fit, else alone
            cost = head + sum(count_tokens(v.text) + 1 for v in take)
            if take and (cost <= left or (not chosen and len(take) == 1)):  # the best evidence, whatever it costs
                chosen.update((v.passage_index, v.start) for v in take)
                opened.add(u.passage_index)
                left -= cost
                break
        if left <= 0:
            break
    out: list[Span] = []
    for i, us in sorted(by_passage.items()):
        run: list[Unit] = []
        for u in us:
            if (u.passage_index, u.start) in chosen:
                run.append(u)
            elif run:
                out.append((shown[i], (run[0].start, run[-1].end)))
                run = []
        if run:
            out.append((shown[i], (run[0].start, run[-1].end)))
    return out


def heading(p: Passage, n: int) -> str:
    """Block ``n``'s first line: its number, section path and document number."""
    c = p.chunk
    return f"[{n}] " + fence(" · ".join(x for x in (c.section_path, str(c.meta.get("doc_no") or "")) if x))


def blocks(pieces: Sequence[Span], count_tokens: Callable[[str], int],
           budget: int) -> tuple[str, list[Passage], list[Block], list[tuple[int, int]]]:
    """Numbered blocks (one per passage, its pieces in document order) within the token budget: the prompt
    text, the passages, the attribution blocks, and each block's span. The first block is always kept."""
    grouped: dict[str, list[Span]] = {}
    for piece in pieces:
        grouped.setdefault(piece[0].chunk.id, []).append(piece)
    texts: list[str] = []
    used: list[Passage] = []
    out: list[Block] = []
    spans: list[tuple[int, int]] = []
    for group in grouped.values():
        p = group[0][0]
        c = p.chunk
        body = "\n".join(dict.fromkeys(c.text[s - c.start : e - c.start].strip() for _, (s, e) in
                                       sorted(group, key=lambda x: x[1][0])))
        block = f"{heading(p, len(used) + 1)}\n{fence(body)}"
        cost = count_tokens(block)
        if cost > budget and used:
            break
        texts.append(block)
        used.append(p)
        out.append(Block(body, c.text))
        spans.append((min(s for _, (s, _) in group), max(e for _, (_, e) in group)))
        budget -= cost
    return "\n\n".join(texts), used, out, spans
