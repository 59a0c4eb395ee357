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

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from assistant.data import Document
from assistant.errors import IngestError
from assistant.knowledge.ingest.common import Unreadable, normalise
from assistant.knowledge.ingest.docx_loader import load_docx
from assistant.knowledge.ingest.html_loader import load_html
from assistant.knowledge.ingest.pdf_loader import load_pdf
from assistant.knowledge.ingest.text_loader import load_markdown, load_text

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
        raise Unreadable(source, f"unsupported type {path.suffix or '(no extension)'!r} (supported: {_SUPPORTED})")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise Unreadable(source, f"cannot be read: {exc.strerror or exc}") from exc
    if not raw.strip():
        raise Unreadable(source, "empty file")

    text, meta = _LOADERS[fmt](raw, source)
    text = normalise(text)
    if not text.strip():
        hint = " (scanned PDF? run OCR on it first)" if fmt == "pdf" else ""
        raise Unreadable(source, f"no text could be extracted{hint}")
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
        except Unreadable as exc:
            log.info("skipped %s: %s", exc.source, exc.reason)  # the caller names skipped files, once
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


_LOADERS = {
    "md": load_markdown,
    "txt": load_text,
    "html": load_html,
    "pdf": load_pdf,
    "docx": load_docx,
}
