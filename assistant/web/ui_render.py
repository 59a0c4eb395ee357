"""The web chat's rendering: pure functions from an :class:`Answer` to the HTML a chat message shows.

Every piece of text that came from a document or a user goes through :func:`_esc` before it goes into HTML;
nothing here runs JavaScript or carries an event attribute (gradio sanitises the message too). The page's
script (``static/webchat.js``) finds its targets by id and class: ``a.hp-ref`` markers point at their footnote
(``href="#hp-fn-<turn>-<n>"``) and ``button.hp-copy`` copies the answer text beside it.

Answer text becomes paragraphs and nested lists. A bullet that is the one-line form of the passage it cites
(the extractive answerer folds a quoted list onto one line) is shown with the quote's own lines, so a quoted
list keeps its nesting; a lone item quoted out of its list loses its stray number ("- 8. 配套…" → "配套…").

>>> c = Citation(n=1, chunk_id="c", source="plan.md", title="规划", section="二、税收", quote="面积约3.89平方公里。",
...              start=0, end=10, doc_no="国发〔2023〕12号")
>>> render_text("面积约3.89平方公里。[1]", turn=1, citations=[c])[:60]
'<div class="hp-text"><p>面积约3.89平方公里。<a class="hp-ref" href="'
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from assistant.answering.eligibility.render import render_checklist as checklist_markdown
from assistant.data import Answer, Citation
from assistant.knowledge.chunking import is_item, strip_item_marker
from assistant.text.markers import TRAILING_MARKERS, marker_numbers, rewrite_markers
from assistant.web.errors import public_message
from assistant.web.labels import citation_label, shorten, validity_label
from assistant.web.ui_checklist import render_checklist

#: Longest metadata value (issuer, date) and quote snippet before they are cut.
META_CHARS = 60
SNIPPET_CHARS = 28
#: Most follow-up questions shown under an answer.
MAX_SUGGESTIONS = 4

#: The generic internal-error message in the chat's languages: what it tells of any error without a public message.
INTERNAL_ERROR = "内部错误，请稍后再试。 Internal error — please try again later."

_TRAILING = re.compile(TRAILING_MARKERS + r"\s*$")
_BULLET = ("-", "*", "+", "•", "◦")


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


# --------------------------------------------------------------------------------------------------
# Text → blocks (paragraphs and nested lists)


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text).strip()


def _item_body(line: str, top: bool) -> str:
    """The text of a list line; a bullet over a numbered item quoted alone keeps only its text."""
    body = strip_item_marker(line)
    if top and line.lstrip().startswith(_BULLET) and is_item(body):
        body = strip_item_marker(body)
    return body


def _marker(line: str) -> str:
    """The visible marker of a numbered item ("1.", "（2）"), "" for a bullet."""
    stripped = line.lstrip(" \t")
    if stripped.startswith(_BULLET):
        return ""
    return stripped[: len(stripped) - len(strip_item_marker(stripped))].strip()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _render_lines(lines: list[str], inline: Any, quotes: dict[str, Citation], top: bool = True) -> str:
    """Paragraphs and (nested) lists from ``lines``: items by their markers, nesting by indentation."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if not is_item(line):
            out.append(f'<p>{inline(line.strip())}</p>')
            i += 1
            continue
        # a list: this item and its siblings at the same indent, each with the deeper lines under it
        level = _indent(line)
        items: list[str] = []
        while i < len(lines) and lines[i].strip() and is_item(lines[i]) and _indent(lines[i]) == level:
            head, i = lines[i], i + 1
            children: list[str] = []
            while i < len(lines) and lines[i].strip() and _indent(lines[i]) > level:
                children.append(lines[i])
                i += 1
            items.append(_render_item(head, children, inline, quotes, top))
        numbered = not top and bool(_marker(line))
        out.append(f'<ul class="hp-list{" hp-numbered" if numbered else ""}">{"".join(items)}</ul>')
    return "".join(out)


def _render_item(head: str, children: list[str], inline: Any, quotes: dict[str, Citation], top: bool) -> str:
    body = _item_body(head, top)
    tail = _TRAILING.search(body)
    markers = tail.group(0).strip() if tail else ""
    text = body[: tail.start()] if tail else body
    cited = quotes.get(text.strip()) if top and not children else None
    marker = _marker(head)
    mark = f'<span class="hp-li-n">{_esc(marker)}</span> ' if marker and not top else ""
    if cited is not None and "\n" in cited.quote.strip():
        # the one-line form of a multi-line quote: show the quote's own lines (its nested list)
        quote_lines = cited.quote.strip("\n").split("\n")
        base = min(_indent(x) for x in quote_lines if x.strip())
        quote_lines = [x[base:] for x in quote_lines]
        if is_item(quote_lines[0]) and not any(is_item(x) and _indent(x) == 0 for x in quote_lines[1:]):
            quote_lines[0] = strip_item_marker(quote_lines[0])  # one item with its sub-items: no extra level
        inner = _render_lines(quote_lines, inline, {}, top=False)
        head_ul = '<ul class="hp-list">'
        closing = re.search(r"(?:</li>|</ul>)+$", inner)
        if markers and closing:  # the markers follow the last words quoted, however deep they sit
            inner = inner[: closing.start()] + inline(markers) + inner[closing.start():]
        if all(is_item(x) for x in quote_lines if x.strip() and not _indent(x)) and inner.startswith(head_ul):
            # a quoted list: its items join the answer's list as siblings
            return inner[len(head_ul): -len("</ul>")]
        return f'<li class="hp-li">{inner}</li>'
    sub = _render_lines(_dedent(children), inline, {}, top=False) if children else ""
    return f'<li class="hp-li">{mark}{inline(text.strip() + markers)}{sub}</li>'


def _dedent(lines: list[str]) -> list[str]:
    base = min((_indent(x) for x in lines if x.strip()), default=0)
    return [x[base:] for x in lines]


def _quote_index(citations: Sequence[Citation]) -> dict[str, Citation]:
    """Each citation by the one-line form of its quote (as the answerer writes it into a bullet)."""
    index: dict[str, Citation] = {}
    for c in citations:
        index.setdefault(strip_item_marker(_one_line(c.quote)), c)
        index.setdefault(_one_line(c.quote).lstrip("-*•◦ "), c)
    return index


def render_text(text: str, turn: int | None = None, citations: Sequence[Citation] = ()) -> str:
    """Answer text as HTML: paragraphs and nested lists, ``[n]`` markers as links to their footnotes.

    ``turn`` makes the footnote ids unique on the page (``hp-fn-<turn>-<n>``); without it (a question, or a
    streaming answer) the markers are plain superscripts.
    """
    known = {c.n for c in citations}

    def marker(numbers: list[int]) -> str:
        out = []
        for n in numbers:
            if turn is not None and n in known:
                out.append(f'<a class="hp-ref" href="#hp-fn-{turn}-{n}" title="[{n}]">[{n}]</a>')
            else:
                out.append(f'<sup class="hp-sup">[{n}]</sup>')
        return "".join(out)

    def inline(s: str) -> str:
        return rewrite_markers(_esc(s), marker)

    lines = text.replace("\r\n", "\n").split("\n")
    return f'<div class="hp-text">{_render_lines(lines, inline, _quote_index(citations))}</div>'


# --------------------------------------------------------------------------------------------------
# Footnotes and the finished answer


def mode_label(answer: Answer) -> str:
    """A short bilingual label of how the answer was made: quoted, by which model, or declined."""
    if answer.mode == "decline":
        return "未找到依据 · declined"
    if answer.mode == "llm":
        return f"模型 · {answer.model or 'LLM'}"
    return "摘录 · extractive"


def _meta(label: str, value: str | None) -> str:
    if not value:
        return ""
    short = shorten(value, META_CHARS)
    hint = f' title="{_esc(value)}"' if short != " ".join(value.split()) else ""
    return f'<span class="hp-meta"{hint}>{label} {_esc(short)}</span>'


def render_citation(c: Citation, turn: int = 0, lang: str = "zh-Hans") -> str:
    """One footnote, ``[n] label  “snippet…”``, that opens to the exact quote, the full title, the document's
    number, issuer, date and lifecycle (status today, in ``lang``, with its dates) and a link."""
    meta = [m for m in (_meta("文号 No.:", c.doc_no), _meta("发布 Issuer:", c.issuer), _meta("日期 Date:", c.date),
                        _meta("效力 Status:", validity_label(c, lang))) if m]
    url = c.url if c.url and c.url.startswith(("https://", "http://")) else None
    if url:
        meta.append(f'<a class="hp-link" href="{_esc(url)}" rel="noopener noreferrer nofollow" target="_blank">'
                    "官方原文 Official text ↗</a>")
    if not c.verified:
        meta.append('<span class="hp-warn">未逐字核对 not verified verbatim</span>')
    snippet = shorten(" ".join(strip_item_marker(x) for x in c.quote.split("\n")), SNIPPET_CHARS)
    parts = [
        f'<details class="hp-cite" id="hp-fn-{turn}-{int(c.n)}"><summary>'
        f'<span class="hp-cite-n">[{int(c.n)}]</span> <span class="hp-cite-label">{_esc(citation_label(c))}</span>'
        f' <span class="hp-snippet">“{_esc(snippet)}”</span></summary>',
        f'<div class="hp-cite-title">{_esc(c.title)}{" · " + _esc(c.section) if c.section else ""}</div>',
        f'<blockquote class="hp-quote">{_esc(c.quote.strip())}</blockquote>',
        f'<div class="hp-cite-meta">{" · ".join(meta)}</div>' if meta else "",
    ]
    if c.passage_text and c.passage_text.strip() != c.quote.strip():
        parts.append(f'<details class="hp-context"><summary>上下文 Context</summary>'
                     f'<div class="hp-passage">{_esc(c.passage_text)}</div></details>')
    parts.append("</details>")
    # One line: a blank line would end the HTML block and let Markdown rewrite the quote.
    return "".join(p.replace("\n", "<br>") for p in parts)


def render_answer(answer: Answer, turn: int = 0) -> str:
    """A finished answer as one chat message: text, an eligibility question's checklist, footnotes, its mode and
    notice, and a copy button."""
    cited = {n for n in marker_numbers(answer.text)}
    out = [f'<div class="hp-answer" id="hp-ans-{turn}">']
    if answer.verdict is None or answer.text.strip() != checklist_markdown(answer).strip():
        out.append(render_text(answer.text, turn, answer.citations))  # else the text is the checklist below
    out.append(render_checklist(answer, turn))
    notes = [c for c in sorted(answer.citations, key=lambda c: c.n) if c.n in cited or not cited]
    if notes:
        out.append(f'<div class="hp-cites"><div class="hp-cites-h">引用 Sources</div>'
                   f'{"".join(render_citation(c, turn, answer.lang) for c in notes)}</div>')
    badges = [f'<span class="hp-badge hp-mode-{_esc(answer.mode)}">{_esc(mode_label(answer))}</span>']
    if answer.notice:
        badges.append(f'<span class="hp-notice">⚠ {_esc(answer.notice)}</span>')
    if answer.suggestions:
        buttons = "".join(f'<button class="hp-suggestion" type="button">{_esc(q)}</button>'
                          for q in answer.suggestions[:MAX_SUGGESTIONS])
        out.append(f'<div class="hp-suggest"><span class="hp-suggest-h">可以问 · Try asking:</span>{buttons}</div>')
    badges.append(f'<button class="hp-copy" id="hp-copy-{turn}" type="button" title="复制回答 Copy the answer">'
                  "复制 Copy</button>")
    out.append(f'<div class="hp-answer-meta">{"".join(badges)}</div></div>')
    return "".join(x.replace("\n", "") for x in out)


def render_error(exc: BaseException) -> str:
    """An error as a chat message: what the API tells of it (:func:`~assistant.web.errors.public_message`), never a
    stack trace, an internal address or a server path (those stay in the server log)."""
    return f'<div class="hp-error">⚠ 无法回答 Could not answer: {_esc(public_message(exc, INTERNAL_ERROR))}</div>'


def render_question(text: str) -> str:
    """A visitor's question as a chat message (escaped, line breaks kept)."""
    return f'<div class="hp-q">{_esc(text).replace(chr(10), "<br>")}</div>'
