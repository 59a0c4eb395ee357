"""HTML → Markdown-flavoured text: headings, lists, tables and paragraphs kept; scripts and navigation dropped."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from assistant.knowledge.ingest.common import Loaded, Unreadable, put, table_row

_HTML_DROP = {"script", "style", "nav", "noscript", "template", "head", "svg", "iframe", "object"}
_HTML_BLOCKS = {
    "address", "article", "aside", "blockquote", "body", "dd", "details", "dialog", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "html", "main", "p", "section",
    "summary",
}  # fmt: skip
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_HTML_STRUCTURE = sorted(_HTML_BLOCKS | set(_HEADINGS) | {"ul", "ol", "li", "table", "pre"})
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")  # HTML's own whitespace: leaves U+3000 and NBSP as they are


def load_html(raw: bytes, source: str) -> Loaded:
    from bs4 import BeautifulSoup
    from bs4.element import Tag

    try:
        soup = BeautifulSoup(raw, "lxml")  # bytes in: bs4 honours <meta charset> and BOMs
    except Exception as exc:  # lxml rarely fails, but a parser error must not stop the whole load
        raise Unreadable(source, f"not valid HTML: {exc}") from exc
    meta: dict[str, Any] = {}
    if soup.title is not None:
        put(meta, "title", soup.title.get_text())
    for tag in soup.find_all("meta"):
        name, content = tag.get("name"), tag.get("content")
        if isinstance(name, str) and isinstance(content, str) and name.strip():
            key = name.strip().lower()
            if key not in meta:
                put(meta, key, content)
    if "author" in meta:
        meta.setdefault("issuer", meta["author"])
    for tag in soup.find_all(list(_HTML_DROP)):
        if isinstance(tag, Tag) and not tag.decomposed:
            tag.decompose()
    blocks: list[str] = []
    _html_blocks(soup.body or soup, blocks)
    return "\n\n".join(blocks), meta


def _inline(parts: Iterable[str]) -> str:
    """Collapse HTML whitespace in inline text; ``\\n`` parts stand for ``<br>``."""
    lines = "".join(parts).split("\n")
    return "\n".join(s for s in (_HTML_SPACE.sub(" ", line).strip() for line in lines) if s)


def _html_text(node: Any) -> str:
    from bs4.element import NavigableString, Tag

    parts: list[str] = []
    for item in node.descendants:
        if isinstance(item, Tag) and item.name == "br":
            parts.append("\n")
        elif type(item) is NavigableString:  # excludes comments, CDATA, doctype
            parts.append(str(item))
    return _inline(parts)


def _html_blocks(node: Any, out: list[str]) -> None:
    """Append the Markdown blocks of ``node``'s children to ``out`` (headings, lists, tables, paragraphs)."""
    from bs4.element import NavigableString, Tag

    pending: list[str] = []

    def flush() -> None:
        text = _inline(pending)
        pending.clear()
        if text:
            out.append(text)

    for child in node.children:
        if type(child) is NavigableString:
            pending.append(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name == "br":
            pending.append("\n")
        elif name in _HEADINGS:
            flush()
            if text := _html_text(child).replace("\n", " "):
                out.append("#" * _HEADINGS[name] + " " + text)
        elif name in ("ul", "ol", "li"):
            flush()
            lines: list[str] = []
            _html_list(child, lines, 0)
            if lines:
                out.append("\n".join(lines))
        elif name == "table":
            flush()
            rows = [table_row(tr.find_all(["td", "th"], recursive=False), _html_text) for tr in child.find_all("tr")]
            if table := "\n".join(r for r in rows if r):
                out.append(table)
        elif name == "pre":
            flush()
            if child.get_text().strip():
                out.append(child.get_text().strip("\n"))
        elif name in _HTML_BLOCKS or child.find(_HTML_STRUCTURE):
            flush()
            _html_blocks(child, out)
        else:
            pending.append(_html_text(child) if child.find("br") else child.get_text())
    flush()


def _html_list(node: Any, lines: list[str], depth: int) -> None:
    from bs4.element import Tag

    items = [node] if node.name == "li" else node.find_all("li", recursive=False)
    for li in items:
        nested = [c for c in li.children if isinstance(c, Tag) and c.name in ("ul", "ol")]
        for sub in nested:
            sub.extract()
        if text := _html_text(li).replace("\n", " "):
            lines.append("  " * depth + "- " + text)
        for sub in nested:
            _html_list(sub, lines, depth + 1)
