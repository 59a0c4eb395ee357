"""Files → :class:`~assistant.data.Document`: Markdown, plain text, HTML, PDF and DOCX, with metadata.

Every format is turned into Markdown-flavoured text (``#`` headings, ``- `` list items, blank lines between
paragraphs) so that the structure-aware chunker sees the same shapes whatever the source was. Parsing is
left to well-kept libraries (PyYAML, BeautifulSoup + lxml, pypdf, python-docx); the only hand-written
parsing is splitting Markdown front matter from its body.

Characters are kept as they are: newlines are normalised to ``\\n`` and a leading BOM is dropped, nothing
else (conversion between Traditional and Simplified Chinese happens at indexing time, not here).

>>> docs, skipped = load_sources(Path("index/sources"))  # doctest: +SKIP
>>> docs[0].source, docs[0].meta["format"]  # doctest: +SKIP
('hetao-plan-digest.md', 'md')
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from assistant.data import Document
from assistant.errors import IngestError

log = logging.getLogger(__name__)

#: File extension → the format name stored in ``meta["format"]``.
FORMATS: dict[str, str] = {
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}

_SUPPORTED = ", ".join(FORMATS)


@dataclass(frozen=True)
class SkippedFile:
    """A file under the sources folder that was not loaded, and why (``reason`` is for people)."""

    source: str
    reason: str


class _Unreadable(IngestError):
    """A file that cannot be turned into text; ``reason`` says why without naming the file."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason} — fix or re-export the file, or remove it from the sources folder")
        self.source = source
        self.reason = reason


# --------------------------------------------------------------------------------------------- public API


def load_document(path: Path, root: Path) -> Document:
    """Read one file into a :class:`Document`.

    ``source`` is ``path`` relative to ``root`` (posix form); ``text`` is the body that chunk offsets index
    into; ``meta`` holds the file's own metadata (front matter, ``<title>``/``<meta>``, PDF document info,
    DOCX core properties) as strings, plus ``format``, ``sha1`` (of the raw bytes) and, for PDFs, ``pages``.

    Raises :class:`~assistant.errors.IngestError` when the file cannot be read, parsed, or yields no text.

    >>> doc = load_document(Path("index/sources/hetao-plan-digest.md"), Path("index/sources"))  # doctest: +SKIP
    >>> doc.meta["doc_no"]  # doctest: +SKIP
    '国发〔2023〕12号'
    """
    source = path.relative_to(root).as_posix()
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise _Unreadable(source, f"unsupported type {path.suffix or '(no extension)'!r} (supported: {_SUPPORTED})")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _Unreadable(source, f"cannot be read: {exc.strerror or exc}") from exc
    if not raw.strip():
        raise _Unreadable(source, "empty file")

    text, meta = _LOADERS[fmt](raw, source)
    text = _normalise(text)
    if not text.strip():
        hint = " (scanned PDF? run OCR on it first)" if fmt == "pdf" else ""
        raise _Unreadable(source, f"no text could be extracted{hint}")
    if not meta.get("title") and fmt in ("md", "html", "docx"):
        heading = _first_h1(text)
        if heading:
            meta["title"] = heading
    meta["format"] = fmt
    meta["sha1"] = hashlib.sha1(raw).hexdigest()
    return Document(source=source, text=text, meta=meta)


def load_sources(root: Path) -> tuple[list[Document], list[SkippedFile]]:
    """Load every supported file under ``root``, recursively, in sorted order of their relative paths.

    Hidden files and folders (name starting with ``.``) and Office lock files (``~$…``) are ignored. Files
    with an unsupported extension, and files that are corrupt, unreadable or empty, do not stop the load:
    they are returned in the second list with the reason. Raises :class:`~assistant.errors.IngestError`
    only when ``root`` is not a folder.

    >>> docs, skipped = load_sources(Path("index/sources"))  # doctest: +SKIP
    >>> [s.reason for s in skipped]  # doctest: +SKIP
    []
    """
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise IngestError(
            f"Sources folder {root} {what} — create it and put .md/.txt/.html/.pdf/.docx files in it, "
            "or set PARK_SOURCES_DIR to the folder that holds them"
        )
    docs: list[Document] = []
    skipped: list[SkippedFile] = []
    for path in _walk(root):
        try:
            docs.append(load_document(path, root))
        except _Unreadable as exc:
            log.warning("skipped %s: %s", exc.source, exc.reason)
            skipped.append(SkippedFile(exc.source, exc.reason))
    return docs, skipped


# ------------------------------------------------------------------------------------------------ helpers


def _walk(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        # Pruning in place keeps os.walk out of .git, .cache and the like.
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found.extend(Path(dirpath, f) for f in filenames if not f.startswith((".", "~$")))
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _normalise(text: str) -> str:
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


_H1 = re.compile(r"^# +(.+?)(?:\s+#+)?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _first_h1(text: str) -> str | None:
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (m := _H1.match(line)):
            return m.group(1).strip()
    return None


def _meta_value(value: Any) -> str | None:
    """Front matter and document properties as strings, so meta stays JSON- and chroma-friendly."""
    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "; ".join(s for s in (_meta_value(v) for v in value) if s)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    text = str(value).strip()
    return text or None


def _put(meta: dict[str, Any], key: str, value: Any) -> None:
    text = _meta_value(value)
    if text:
        meta[key] = text


def _decode(raw: bytes, source: str) -> tuple[str, str]:
    """Decode text bytes: UTF-8 (with or without BOM), UTF-16 with a BOM, else GB18030."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise _Unreadable(source, f"not valid UTF-16 text: {exc.reason} at byte {exc.start}") from exc
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        # A NUL byte never occurs in GB18030 text; without this check a binary file could decode as junk.
        if b"\x00" not in raw:
            try:
                return raw.decode("gb18030"), "gb18030"
            except UnicodeDecodeError:
                pass
        raise _Unreadable(
            source,
            f"not valid UTF-8 (nor GB18030) text: {utf8_error.reason} at byte {utf8_error.start}; save it as UTF-8",
        ) from utf8_error


# ----------------------------------------------------------------------------------------------- loaders

Loaded = tuple[str, dict[str, Any]]

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)


def _load_markdown(raw: bytes, source: str) -> Loaded:
    text, encoding = _decode(raw, source)
    text = _normalise(text)
    meta: dict[str, Any] = {}
    if encoding != "utf-8":
        meta["encoding"] = encoding
    match = _FRONT_MATTER.match(text)
    if not match:
        return text, meta
    try:
        fields = yaml.safe_load(match.group(1) or "")
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise _Unreadable(source, f"front matter is not valid YAML: {detail}") from exc
    if fields is not None and not isinstance(fields, dict):
        raise _Unreadable(source, f"front matter must be 'key: value' lines, got a {type(fields).__name__}")
    for key, value in (fields or {}).items():
        _put(meta, str(key), value)
    # The body is kept byte-for-byte after the closing '---' so chunk offsets point into the file's text.
    return text[match.end() :], meta


def _load_text(raw: bytes, source: str) -> Loaded:
    text, encoding = _decode(raw, source)
    return text, {"encoding": encoding}


# HTML ------------------------------------------------------------------------------------------------------

_HTML_DROP = {"script", "style", "nav", "noscript", "template", "head", "svg", "iframe", "object"}
_HTML_BLOCKS = {
    "address", "article", "aside", "blockquote", "body", "dd", "details", "dialog", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "html", "main", "p", "section",
    "summary",
}  # fmt: skip
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_HTML_STRUCTURE = sorted(_HTML_BLOCKS | set(_HEADINGS) | {"ul", "ol", "li", "table", "pre"})
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")  # HTML's own whitespace: leaves U+3000 and NBSP as they are


def _load_html(raw: bytes, source: str) -> Loaded:
    from bs4 import BeautifulSoup
    from bs4.element import Tag

    try:
        soup = BeautifulSoup(raw, "lxml")  # bytes in: bs4 honours <meta charset> and BOMs
    except Exception as exc:  # lxml rarely fails, but a parser error must not stop the whole load
        raise _Unreadable(source, f"not valid HTML: {exc}") from exc
    meta: dict[str, Any] = {}
    if soup.title is not None:
        _put(meta, "title", soup.title.get_text())
    for tag in soup.find_all("meta"):
        name, content = tag.get("name"), tag.get("content")
        if isinstance(name, str) and isinstance(content, str) and name.strip():
            key = name.strip().lower()
            if key not in meta:
                _put(meta, key, content)
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
            rows = [_table_row(tr.find_all(["td", "th"], recursive=False), _html_text) for tr in child.find_all("tr")]
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


def _table_row(cells: Iterable[Any], text_of: Any) -> str:
    texts = [text_of(c).replace("\n", " ") for c in cells]
    return " | ".join(texts) if any(texts) else ""


# PDF -------------------------------------------------------------------------------------------------------


def _load_pdf(raw: bytes, source: str) -> Loaded:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise _Unreadable(source, "encrypted PDF: remove the password and export it again")
        pages = [page.extract_text() or "" for page in reader.pages]
    except _Unreadable:
        raise
    except Exception as exc:  # pypdf raises many types (PdfReadError, ValueError, KeyError…) on broken files
        raise _Unreadable(source, f"not a valid PDF: {type(exc).__name__}: {exc}") from exc
    # NUL characters are an extraction artefact (two-byte CID codes read one byte at a time), never content.
    texts = [_normalise(p).replace("\x00", "").strip() for p in pages]
    meta: dict[str, Any] = {"pages": len(pages)}
    try:
        info = reader.metadata
    except Exception:  # a broken info dictionary loses the metadata, not the text
        info = None
    if info is not None:
        _put(meta, "title", info.title)
        _put(meta, "author", info.author)
        try:
            created: Any = info.creation_date
        except Exception:
            created = info.get("/CreationDate")
        _put(meta, "created", created)
    if "author" in meta:
        meta.setdefault("issuer", meta["author"])
    return "\n\n".join(t for t in texts if t), meta


# DOCX ------------------------------------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"^Heading (\d)$")
_LIST_LEVEL = re.compile(r"^List(?: \w+)*? (\d)$")


def _load_docx(raw: bytes, source: str) -> Loaded:
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(raw))
    except Exception as exc:  # BadZipFile, KeyError, PackageNotFoundError, ValueError on broken files
        raise _Unreadable(source, f"not a valid DOCX: {type(exc).__name__}: {exc}") from exc
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
                rows.append(_table_row(cells, lambda c: c.text.strip()))
            if table := "\n".join(r for r in rows if r):
                blocks.append(table)
        elif text := item.text.strip():
            blocks.append(_docx_heading(item.style.name if item.style else "") + text)
    if list_run:
        blocks.append("\n".join(list_run))

    props = document.core_properties
    meta: dict[str, Any] = {}
    _put(meta, "title", props.title)
    _put(meta, "author", props.author)
    _put(meta, "created", props.created)
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


_LOADERS = {
    "md": _load_markdown,
    "txt": _load_text,
    "html": _load_html,
    "pdf": _load_pdf,
    "docx": _load_docx,
}
