"""Documents → Chunks along the document's own structure. Pure functions.

Chinese policy text carries its structure in headings (Markdown ``#``, ``第X章``, ``一、``, ``（一）``),
numbered items (``1.``, ``（1）``, ``第X条``), bullet lists and ``一是/二是`` enumerations. The chunker
keeps those units whole where it can, merges small neighbours of the same section up to a token budget
(counted with tiktoken), and splits only oversized units, at sentence ends (。！？；).

Every chunk is an exact span of the document body, ``doc.text[chunk.start:chunk.end] == chunk.text``,
so a citation can always show the quote in place.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from assistant.data import DOC_META_KEYS, Chunk, Document
from assistant.knowledge.section_meta import CLOSING, OPENING, parse_section_meta

TokenCounter = Callable[[str], int]

_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
# Plain-text headings (txt, pdf, docx without styles): short lines led by a structural marker.
_CN_NUM = "一二三四五六七八九十百零〇"
_TEXT_HEADINGS: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(rf"^第[{_CN_NUM}\d]+[编章]"), 1),
    (re.compile(rf"^第[{_CN_NUM}\d]+节"), 2),
    (re.compile(rf"^[{_CN_NUM}]+、"), 2),
    (re.compile(rf"^（[{_CN_NUM}]+）"), 3),
)
# Item markers: a block starting with one is a unit (its marker goes into the section path).
_ITEM = re.compile(
    rf"^(?:[-*+•][ \t]+|(?P<num>\d{{1,3}}[.、．)]|（\d{{1,3}}）|\(\d{{1,3}}\)|第[{_CN_NUM}\d]+条|[{_CN_NUM}]+是)[ \t]*)"
)
_SENTENCE_END = re.compile(r"[。！？；!?;]+[”’」』）)\]]*|\n+")
_FULL_STOP_END = re.compile(r"[。！？!?]+[”’」』）)\]]*|\n+")


@dataclass(frozen=True)
class _Block:
    start: int
    end: int
    section: tuple[str, ...]
    label: str | None  # the item marker ("2.", "第三条") when the block is a numbered unit
    part: int = 0  # headings seen before the block: two sections with the same path stay apart
    meta: tuple[tuple[str, str], ...] = ()  # the section's own metadata (``<!-- meta`` blocks), outer to inner


def _heading(line: str) -> tuple[int, str] | None:
    m = _MD_HEADING.match(line)
    if m:
        return len(m.group(1)), m.group(2).strip()
    stripped = line.strip()
    if 0 < len(stripped) <= 40 and not re.search(r"[。；！？]$", stripped):
        for pattern, level in _TEXT_HEADINGS:
            if pattern.match(stripped):
                return level + 1, stripped  # below the document title
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def is_item(line: str) -> bool:
    """Does ``line`` start a list item (``- ``, ``2.``, ``（3）``, ``第五条``, ``一是``), at any indent?"""
    return _ITEM.match(line.lstrip(" \t")) is not None


def strip_item_marker(line: str) -> str:
    """``line`` without its leading item marker (``- 面积`` → ``面积``)."""
    stripped = line.lstrip(" \t")
    m = _ITEM.match(stripped)
    return stripped[m.end() :] if m else stripped


def _item_label(line: str) -> str | None:
    m = _ITEM.match(line.lstrip(" \t"))
    if not m:
        return None
    marker = m.group(0).strip()
    return None if marker in {"-", "*", "+", "•"} else marker.rstrip("、")


def _blocks(text: str, title: str) -> Iterator[_Block]:
    """Split the body into structural blocks: paragraphs and top-level list items (with their sub-items)."""
    headings = 0
    stack: list[tuple[int, str]] = []  # (level, heading)
    metas: dict[int, dict[str, str]] = {}  # level → that heading's section metadata (0: before any heading)
    block_start: int | None = None
    block_end = 0
    block_label: str | None = None
    pos = 0
    meta_lines: list[str] | None = None  # inside a ``<!-- meta`` block

    def section() -> tuple[str, ...]:
        names = [h for _, h in stack]
        if not names or (stack[0][0] > 1 and names[0] != title):
            names.insert(0, title)
        return tuple(names)

    def section_meta() -> tuple[tuple[str, str], ...]:
        merged: dict[str, str] = {}
        for level in sorted(metas):
            merged.update(metas[level])
        return tuple(merged.items())

    def block(start: int, end: int, label: str | None) -> _Block:
        return _Block(start, end, section(), label, headings, section_meta())

    for line in text.splitlines(keepends=True):
        line_start, pos = pos, pos + len(line)
        content = line.rstrip("\r\n")
        if meta_lines is not None or OPENING.match(content):
            if block_start is not None:
                yield block(block_start, block_end, block_label)
                block_start = None
            meta_lines = [*(meta_lines or []), line]
            if CLOSING in content:
                level = stack[-1][0] if stack else 0
                # ingest validated every block; a bad one here is ignored rather than failing a build
                with contextlib.suppress(ValueError):
                    metas[level] = parse_section_meta("".join(meta_lines))
                meta_lines = None
            continue
        heading = _heading(content) if _indent(content) == 0 else None
        is_blank = not content.strip()
        top_item = bool(content.strip()) and _indent(content) == 0 and _ITEM.match(content) is not None
        # A block ends at a blank line, a heading, or a new top-level list item.
        if block_start is not None and (is_blank or heading or top_item):
            yield block(block_start, block_end, block_label)
            block_start = None
        if heading:
            level, name = heading
            while stack and stack[-1][0] >= level:
                stack.pop()
            for deeper in [lv for lv in metas if lv >= level]:
                del metas[deeper]
            stack.append((level, name))
            headings += 1
            continue
        if is_blank:
            continue
        if block_start is None:
            offset = len(content) - len(content.lstrip(" \t"))
            block_start = line_start + offset
            block_label = _item_label(content)
        block_end = line_start + len(content.rstrip())
    if block_start is not None:
        yield block(block_start, block_end, block_label)


def split_sentences(text: str, base: int = 0, *, clauses: bool = True) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text`` (shifted by ``base``), cut after 。！？ and newlines,
    and after ； too when ``clauses`` (the items of a ；-separated enumeration are then separate units).

    Spans exclude surrounding whitespace; closing quotes and brackets stay with their sentence.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for m in (_SENTENCE_END if clauses else _FULL_STOP_END).finditer(text):
        end = m.end()
        _add_span(text, start, end, base, spans)
        start = end
    _add_span(text, start, len(text), base, spans)
    return spans


def _add_span(text: str, start: int, end: int, base: int, spans: list[tuple[int, int]]) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = len(piece) - len(piece.lstrip())
        spans.append((base + start + lead, base + start + lead + len(stripped)))


def _split_oversized(text: str, block: _Block, max_tokens: int, count: TokenCounter) -> list[_Block]:
    """Cut a block above the budget into runs of whole sentences, at full stops where possible (an
    enumeration 一是…；二是…。 stays together); a sentence still over the budget is cut at its ；."""
    spans: list[tuple[int, int]] = []
    for s, e in split_sentences(text[block.start : block.end], base=block.start, clauses=False):
        if count(text[s:e]) > max_tokens:
            spans.extend(split_sentences(text[s:e], base=s))
        else:
            spans.append((s, e))
    pieces: list[_Block] = []
    run_start: int | None = None
    run_end = 0
    for s, e in spans:
        if run_start is not None and count(text[run_start:e]) > max_tokens:
            pieces.append(_Block(run_start, run_end, block.section, block.label, block.part, block.meta))
            run_start = None
        if run_start is None:
            run_start = s
        run_end = e
    if run_start is not None:
        pieces.append(_Block(run_start, run_end, block.section, block.label, block.part, block.meta))
    # Every piece of an item keeps the item's label, so no piece is merged into a neighbouring unit.
    return pieces


def chunk_document(doc: Document, count: TokenCounter, max_tokens: int = 220, min_tokens: int = 40) -> list[Chunk]:
    """Chunk one document. ``count`` counts tokens (tiktoken in production, ``len`` in quick tests).

    >>> doc = Document("a.md", "# T\\n\\n## 一、总则\\n\\n1. 第一句。\\n2. 第二句。\\n", {"title": "T"})
    >>> [c.section for c in chunk_document(doc, len, max_tokens=8, min_tokens=1)]
    [('T', '一、总则', '1.'), ('T', '一、总则', '2.')]
    """
    text = doc.text
    blocks: list[_Block] = []
    # A document split out of a collection (one policy of a policy list) has its path under the collection's
    # title, as it had inside the list: the same path, so the same index text, wherever an entry is kept.
    root = str(doc.meta.get("collection") or doc.title)
    for block in _blocks(text, root):
        if count(text[block.start : block.end]) > max_tokens:
            blocks.extend(_split_oversized(text, block, max_tokens, count))
        else:
            blocks.append(block)

    meta = {k: str(doc.meta[k]) for k in DOC_META_KEYS if doc.meta.get(k) not in (None, "")}
    meta["title"] = doc.title
    chunks: list[Chunk] = []
    group: list[_Block] = []

    def flush() -> None:
        if not group:
            return
        start, end = group[0].start, group[-1].end
        labels = [b.label for b in group if b.label]
        section = group[0].section
        if labels:
            section = (*section, labels[0] if len(labels) == 1 else f"{labels[0]}–{labels[-1]}")
        body = text[start:end]
        chunks.append(
            Chunk(
                id=Chunk.make_id(doc.source, body, section),
                source=doc.source,
                text=body,
                start=start,
                end=end,
                section=section,
                meta={**meta, **dict(group[0].meta), "ordinal": len(chunks)},
            )
        )
        group.clear()

    for block in blocks:
        if group:
            last = group[-1]
            same_section = (last.section, last.part, last.meta) == (block.section, block.part, block.meta)
            merged = count(text[group[0].start : block.end])
            small = count(text[group[0].start : group[-1].end]) < min_tokens
            # Numbered items stay separate units unless the group is still too small to stand alone.
            separate_items = block.label is not None and group[0].label is not None and not small
            if not same_section or merged > max_tokens or separate_items or (not small and block.label is None
                                                                             and group[-1].label is not None):
                flush()
        group.append(block)
    flush()
    return chunks


def chunk_documents(docs: list[Document], count: TokenCounter, max_tokens: int = 220,
                    min_tokens: int = 40) -> list[Chunk]:
    """Chunk several documents; ids are unique across them (a duplicate span keeps its first chunk)."""
    seen: set[str] = set()
    out: list[Chunk] = []
    for doc in docs:
        for chunk in chunk_document(doc, count, max_tokens, min_tokens):
            if chunk.id not in seen:
                seen.add(chunk.id)
                out.append(chunk)
    return out


def last_item_number(text: str) -> int | None:
    """The number of ``text``'s last line when ``text`` introduces a numbered list (a line ending with ：
    followed by items) that its last line is still an item of (``4. …``); else None. A quote that is one
    item of a list of facts (``6. 面积：…``) introduces nothing."""
    lines = text.rstrip().splitlines()
    intro = next((n for n, line in enumerate(lines) if line.rstrip().endswith(("：", ":"))), None)
    if intro is None or intro == len(lines) - 1:
        return None
    return last_line_number(text)


def list_lead(text: str, offset: int) -> tuple[int, int] | None:
    r"""Where in ``text`` the line introducing the list whose item holds ``offset`` lies, ``(start, end)``: the
    nearest line above it that is indented less and ends with ``：`` (``10. 截至2023年9月：`` over
    ``    - 科研人员3000余人。``). None when the line at ``offset`` is no list item or has no such lead in ``text``.

    >>> t = "10. 截至2023年9月：\n    - 园区内已有研究院。\n    - 科研人员3000余人。"
    >>> s, e = list_lead(t, t.index("科研"))
    >>> t[s:e]
    '10. 截至2023年9月：'
    """
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    if not is_item(line):
        return None
    indent = len(line) - len(line.lstrip(" \t"))
    end = line_start - 1
    while end > 0:
        start = text.rfind("\n", 0, end) + 1
        above = text[start:end]
        if above.strip() and len(above) - len(above.lstrip(" \t")) < indent:
            lead = above.strip()
            if not lead.endswith(("：", ":")):
                return None
            begin = start + above.index(lead)
            return begin, begin + len(lead)
        end = start - 1
    return None


def item_number(line: str) -> int | None:
    """The number of a numbered list item (``4. …``, ``（4）…``), else None (a ``-`` item, ``第四条``, ``一是``)."""
    m = _ITEM.match(line.lstrip(" \t"))
    digits = re.fullmatch(r"[（(]?(\d+)[.、．)）]", m.group(0).strip()) if m else None
    return int(digits.group(1)) if digits else None


def last_line_number(text: str) -> int | None:
    """The number of ``text``'s last line when it is a numbered list item (``4. …``), else None."""
    lines = text.rstrip().splitlines()
    return item_number(lines[-1]) if lines else None


def list_continuation(text: str, after: int) -> int:
    """How much of ``text`` (a chunk that follows one ending with item ``after``) carries the same list on:
    the lines numbered ``after + 1``, ``after + 2`` … from its start, with their wrapped lines. 0 when the
    chunk does not open with the next item."""
    end, expected = 0, after + 1
    for line in text.splitlines(keepends=True):
        number = item_number(line)
        if number == expected:
            expected += 1
        elif number is not None or not end or not line.startswith((" ", "\t")):  # another list, or no item's
            break
        end += len(line)
    return len(text[:end].rstrip())
