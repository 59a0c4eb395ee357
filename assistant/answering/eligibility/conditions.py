"""The condition list of the policy a question is about, read from the index's structure.

A policy is a heading-level section of a source (``… › 二、税收 › P07 《…实施办法》``); its lines are rebuilt
from the section's chunks with their exact offsets (and indents, from the gaps between chunks). Conditions are

* the children of a line whose key (the text before ``：``) is a ``condition`` cue (享受条件, 适用对象, …),
  or the value after ``：`` when it has none; a line whose children are alternatives (包括 / 任一, or a key
  naming what the policy covers, a ``covers`` cue: 适用所得) is one condition;
* in the measure the question is about (the item closest in meaning), the sentences that carry a ``must``,
  ``exclusion`` or ``grant`` cue (须 …, … 不适用, 白名单人员可 …);
* the same rule sentences in the policy's plain bullets, outside a conditions header and its measures
  (同一年度…只能二选一; 园区“白名单”科研机构人员可免费预约乘坐), but not in its metadata lines (发文机关 …);
  a ``must`` rule there is a ``limit``: it binds only whom it names (在园区工作的香港居民，只能在…选择一项).

A condition line carrying an ``incomplete`` cue (未读到, 截断) marks the list incomplete. No per-policy table:
everything comes from section paths, item markers and the cue file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.answering.eligibility.cues import Cues
from assistant.data import Chunk, Passage
from assistant.knowledge.chunking import is_item, split_sentences, strip_item_marker
from assistant.knowledge.reader import IndexReader

_KEY = re.compile(r"^([^：:。]{1,24})[：:]")
_ALTERNATIVES = re.compile(r"(包括|任一|之一|以下)[^。]{0,4}[：:]?\s*$")
_ITEM_LABEL = re.compile(r"^[\d（(第]")
_DOC_NO = re.compile(r"[\u4e00-\u9fff]{2}〔\d{4}〕\d+号")  # the issuer's last two characters, year, number
#: Weight of the retrieval score against the meaning match when choosing the policy (chosen on the tune split).
RANK_WEIGHT = 0.1


@dataclass(frozen=True)
class Line:
    """One line of a policy section: exact text and document offsets, its indent, the chunk it is in."""

    text: str
    start: int
    indent: int
    chunk: Chunk


@dataclass(frozen=True)
class Condition:
    """One condition, quoted exactly (``quote`` is ``document.text[start:start+len(quote)]``)."""

    quote: str
    start: int
    chunk: Chunk
    #: require | exclude | any (one of its alternatives is enough) | limit (a rule binding only whom it names)
    kind: str = "require"
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConditionList:
    """The conditions of one policy; ``complete`` is False when the sources say the rest is missing."""

    policy: tuple[str, ...]
    source: str
    conditions: tuple[Condition, ...]
    complete: bool
    lines: tuple[Line, ...]


def policy_of(chunk: Chunk) -> tuple[str, ...]:
    """The heading-level section of ``chunk`` (item labels dropped): the policy it belongs to."""
    section = list(chunk.section)
    while len(section) > 1 and _ITEM_LABEL.match(section[-1]):
        section.pop()
    return tuple(section)


def policy_keys(reader: IndexReader) -> list[tuple[str, tuple[str, ...]]]:
    """Every policy of the index as ``(source, section path)``, in index order (a section below a document's
    title: a top-level section names no policy)."""
    return [key for key in dict.fromkeys((c.source, policy_of(c)) for c in reader.chunks) if len(key[1]) >= 2]


def section_lines(reader: IndexReader, source: str, policy: tuple[str, ...]) -> list[Line]:
    """The policy's lines in document order, with offsets and indents."""
    chunks = sorted((c for c in reader.chunks if c.source == source and policy_of(c) == policy),
                    key=lambda c: c.start)
    lines: list[Line] = []
    prev_end: int | None = None
    for chunk in chunks:
        # A chunk starts at its first character; the gap after the previous chunk's end holds the indent.
        first_indent = max(0, chunk.start - prev_end - 1) if prev_end is not None else 0
        pos = 0
        for n, raw in enumerate(chunk.text.split("\n")):
            stripped = raw.lstrip(" \t")
            indent = first_indent if n == 0 else len(raw) - len(stripped)
            if stripped.strip():
                lines.append(Line(stripped.rstrip(), chunk.start + pos + len(raw) - len(stripped), indent, chunk))
            pos += len(raw) + 1
        prev_end = chunk.end
    return lines


def _children(lines: Sequence[Line], i: int) -> list[Line]:
    out = []
    for line in lines[i + 1:]:
        if line.indent <= lines[i].indent:
            break
        out.append(line)
    return out


def _value(line: Line) -> tuple[str, int]:
    """The line without its item marker and key: the value quoted as a condition, with its offset."""
    body = strip_item_marker(line.text)
    offset = line.start + len(line.text) - len(body)
    m = _KEY.match(body)
    if m:
        body, offset = body[m.end():].lstrip(), offset + len(body) - len(body[m.end():].lstrip())
    return body, offset


def _kind(text: str, cues: Cues) -> str:
    """``exclude`` when the sentence itself ends by leaving something out (not a parenthetical 除外)."""
    plain = re.sub(r"（[^）]*）|\([^)]*\)", "", text)
    return "exclude" if cues.search("exclusion", plain) else "require"


def find_conditions(reader: IndexReader, passages: Sequence[Passage], cues: Cues,
                    focus: Callable[[Sequence[str]], int],
                    closeness: Callable[[Sequence[str]], float]) -> ConditionList | None:
    """The condition list of the policy among ``passages`` that states conditions and is closest to the question.

    Candidates are the policies of the passages and those a passage names by document number. The one whose
    heading and conditions are closest in meaning to the question (``closeness(texts)``), plus
    ``RANK_WEIGHT`` times its passage's relative retrieval score, wins; on a tie a policy with a conditions
    header (享受条件 …) beats one that only names its audience. ``focus(texts)`` picks the measure
    (top-level item) the question is about.
    """
    found: list[tuple[int, float, ConditionList]] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    top = max((p.score for p in passages), default=1.0) or 1.0
    for passage in passages:
        keys = [(passage.chunk.source, policy_of(passage.chunk)), *_referenced(reader, passage.chunk)]
        for key in keys:
            if key in seen or len(key[1]) < 2:
                continue
            seen.add(key)
            result = policy_conditions(key, section_lines(reader, *key), cues, focus)
            if result is not None:
                found.append((result[0], passage.score / top, result[1]))
    if not found:
        return None
    scored = [(closeness([c.policy[-1], *(x.quote for x in c.conditions)]) + RANK_WEIGHT * rank, strength, c)
              for strength, rank, c in found]
    return with_companions(reader, max(scored, key=lambda f: (f[0], f[1]))[2], cues, focus)


def subject(title: str, cues: Cues) -> str:
    """What a policy title is about, without its label, issuer and kind of document (an ``instrument`` cue):
    ``P07 《河套…个人所得税优惠政策实施办法》`` and ``P06 《财政部 税务总局关于河套…个人所得税优惠政策的通知》`` are
    both about ``河套…个人所得税优惠政策``."""
    m = re.search(r"《([^》]+)》", title)
    name = m.group(1) if m else re.sub(r"^P\d+\s*", "", title)
    name = name.split("关于", 1)[-1]
    kind = cues.search("instrument", name)
    return name[: kind.start()] if kind else name


def with_companions(reader: IndexReader, found: ConditionList, cues: Cues,
                    focus: Callable[[Sequence[str]], int]) -> ConditionList:
    """``found`` with the conditions of the policies on the same subject (:func:`subject`) in other documents:
    a notice and its implementing measures are one policy, the notice naming whom it is for (适用对象), the
    measures its conditions (享受条件). The list is complete only when every part of it is."""
    own = subject(found.policy[-1], cues)
    if len(own) < 6:  # too short a subject to tell two policies apart
        return found
    conditions, lines, complete = list(found.conditions), list(found.lines), found.complete
    for key in policy_keys(reader):
        if key == (found.source, found.policy) or subject(key[1][-1], cues) != own:
            continue
        result = policy_conditions(key, section_lines(reader, *key), cues, focus)
        if result is None:
            continue
        quoted = {c.quote for c in conditions}
        conditions += [c for c in result[1].conditions if c.quote not in quoted]
        lines += result[1].lines
        complete = complete and result[1].complete
    return ConditionList(found.policy, found.source, tuple(conditions), complete, tuple(lines))


def _referenced(reader: IndexReader, chunk: Chunk) -> list[tuple[str, tuple[str, ...]]]:
    """The policies whose own 文号 line carries a document number that ``chunk`` mentions (a contacts line
    saying "该局是深财规〔2025〕2号的执行单位" leads to that policy's conditions)."""
    numbers = set(_DOC_NO.findall(chunk.text))
    if not numbers:
        return []
    out = []
    for other in reader.chunks:
        if other.id == chunk.id:
            continue
        for line in other.text.splitlines():
            key = _KEY.match(strip_item_marker(line.strip()))
            if key and "文号" in key.group(1) and any(n in line for n in numbers):
                out.append((other.source, policy_of(other)))
    return out


def policy_conditions(key: tuple[str, tuple[str, ...]], lines: list[Line], cues: Cues,
                      focus: Callable[[Sequence[str]], int]) -> tuple[int, ConditionList] | None:
    """The conditions of the policy ``key`` (its ``lines``), with how strongly it states them (2: a 享受条件 /
    须同时满足 header, 1: an audience or rules); ``focus(measures)`` picks the measure asked about."""
    conditions: list[Condition] = []
    complete, strength = True, 0
    used: set[int] = set()
    for i, line in enumerate(lines):
        body = strip_item_marker(line.text)
        m = _KEY.match(body)
        if not m or not cues.search("condition", m.group(1)) or line.indent > 0:
            continue
        strength = max(strength, 2 if re.search("条件|满足", m.group(1)) else 1)
        children = _children(lines, i)
        used.update(range(i, i + len(children) + 1))
        if children and (_ALTERNATIVES.search(body) or cues.search("covers", m.group(1))):
            value, offset = body, line.start + len(line.text) - len(body)
            last = children[-1]
            if last.chunk is line.chunk:  # the alternatives are part of the quote: whom or what it covers
                value = line.chunk.text[offset - line.chunk.start : last.start + len(last.text) - line.chunk.start]
            conditions.append(Condition(value, offset, line.chunk, "any",
                                        tuple(strip_item_marker(c.text) for c in children)))
            continue
        for part in children or [line]:
            value, offset = _value(part)
            if cues.search("incomplete", value):
                complete = False
                value = _before_incomplete(value, cues)
            if value:
                conditions.append(Condition(value, offset, part.chunk, _kind(value, cues)))
    # The measure the question is about: a top-level numbered item under a list header.
    measures = [i for i, line in enumerate(lines) if is_item(line.text) and line.indent > 0
                and _ITEM_LABEL.match(line.text) and i not in used]
    if measures:
        best = measures[focus([lines[i].text for i in measures])]
        for part in [lines[best], *_children(lines, best)]:
            found, cut = _rules(part, cues, track_incomplete=True)
            conditions += found
            complete = complete and not cut
            strength = max(strength, 1 if found else 0)
        for i in measures:  # the other measures' rules are not the question's
            used.update(range(i, i + len(_children(lines, i)) + 1))
    # Rules the policy states in plain bullets (须 / 只能 / … 不适用 / 白名单人员可 …), outside a conditions
    # header or a measure: they bind whoever uses the policy. Its metadata lines (发文机关 …) are not rules.
    for i, line in enumerate(lines):
        label = _KEY.match(strip_item_marker(line.text))
        if i in used or not is_item(line.text) or (label and cues.search("office", label.group(1))):
            continue
        found, _ = _rules(line, cues, track_incomplete=False)
        # a 须 / 只能 rule outside the conditions binds whom it names ("在园区工作的香港居民，只能…"): a limit
        conditions += [Condition(c.quote, c.start, c.chunk, "limit") if c.kind == "require"
                       and cues.search("must", c.quote) else c for c in found]
        strength = max(strength, 1 if found else 0)
    # A conditions header whose conditions the sources did not read (条件：…具体条件未读到) is still the policy's
    # list: empty and incomplete, so the answer says the sources do not give them.
    if not conditions and (complete or not strength):
        return None
    return strength, ConditionList(key[1], key[0], tuple(conditions), complete, tuple(lines))


def _rules(line: Line, cues: Cues, track_incomplete: bool) -> tuple[list[Condition], bool]:
    """The sentences of ``line`` that state a rule (a ``must``, ``exclusion`` or ``grant`` cue), and whether
    the line says the rest is missing (only asked of a measure's own lines: ``track_incomplete``)."""
    body, offset = _value(line)
    out: list[Condition] = []
    cut = False
    for s, e in split_sentences(body, clauses=False):
        sentence = body[s:e].strip()
        if not sentence:
            continue
        if cues.search("incomplete", sentence):
            if not track_incomplete:
                continue
            cut = True
            sentence = _before_incomplete(sentence, cues)
        if sentence and (cues.search("must", sentence) or cues.search("exclusion", sentence)
                         or cues.search("grant", sentence)):
            out.append(Condition(sentence, offset + body.index(sentence, s), line.chunk, _kind(sentence, cues)))
    return out, cut


def _before_incomplete(text: str, cues: Cues) -> str:
    """The sentences of ``text`` before the one saying the rest is missing."""
    kept = []
    for s, e in split_sentences(text, clauses=False):
        if cues.search("incomplete", text[s:e]):
            break
        kept.append(text[s:e])
    return "".join(kept).strip()


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)
