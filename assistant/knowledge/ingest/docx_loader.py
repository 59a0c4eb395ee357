"""DOCX → Markdown-flavoured text: heading styles become ``#`` headings, list styles ``- `` items, tables rows."""

from __future__ import annotations

import io
import re
from typing import Any

from assistant.knowledge.ingest.common import Loaded, Unreadable, put, table_row

_HEADING_STYLE = re.compile(r"^Heading (\d)$")
_LIST_LEVEL = re.compile(r"^List(?: \w+)*? (\d)$")


def load_docx(raw: bytes, source: str) -> Loaded:
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(raw))
    except Exception as exc:  # BadZipFile, KeyError, PackageNotFoundError, ValueError on broken files
        raise Unreadable(source, f"not a valid DOCX: {type(exc).__name__}: {exc}") from exc
    blocks: list[str] = []
    list_run: list[str] = []
    for item in document.iter_inner_content():
        line = None if isinstance(item, Table) else _docx_list_item(item)
        if line is not None:
            list_run.append(line)
            continue
        if list_run:
            blocks.append("\n".join(list_run))
            list_run = []
        if isinstance(item, Table):
            rows = []
            for row in item.rows:
                # Merged cells come back once per grid column they span; keep each underlying cell once.
                cells, seen = [], set()
                for cell in row.cells:
                    if id(cell._tc) not in seen:
                        seen.add(id(cell._tc))
                        cells.append(cell)
                rows.append(table_row(cells, lambda c: c.text.strip()))
            if table := "\n".join(r for r in rows if r):
                blocks.append(table)
        elif text := item.text.strip():
            blocks.append(_docx_heading(item.style.name if item.style else "") + text)
    if list_run:
        blocks.append("\n".join(list_run))

    props = document.core_properties
    meta: dict[str, Any] = {}
    put(meta, "title", props.title)
    put(meta, "author", props.author)
    put(meta, "created", props.created)
    if "author" in meta:
        meta["issuer"] = meta["author"]
    return "\n\n".join(blocks), meta


def _docx_heading(style: str) -> str:
    if style == "Title":
        return "# "
    if m := _HEADING_STYLE.match(style):
        return "#" * min(int(m.group(1)), 6) + " "
    return ""


def _docx_list_item(paragraph: Any) -> str | None:
    """``- text`` (indented by level) when the paragraph is a list item, by style or by numbering."""
    text = paragraph.text.strip()
    style = paragraph.style.name if paragraph.style is not None else ""
    ppr = paragraph._p.pPr
    numbered = ppr is not None and ppr.numPr is not None
    if not text or not (style.startswith("List") or numbered):
        return None
    level = 0
    if m := _LIST_LEVEL.match(style):
        level = int(m.group(1)) - 1
    elif numbered and ppr.numPr.ilvl is not None and ppr.numPr.ilvl.val is not None:
        level = int(ppr.numPr.ilvl.val)
    return "  " * level + "- " + text
