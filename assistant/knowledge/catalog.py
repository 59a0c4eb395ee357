"""The documents of the live index build, as editors see them: one row per source file with its metadata,
lifecycle status (on the day asked) and chunk count. Read from the build's own files, not from a server."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from assistant.knowledge.indexing import live_chunks
from assistant.knowledge.lifecycle import status_of

#: The fields of a document row (``GET /api/v1/admin/documents``).
DOCUMENT_FIELDS = ("id", "title", "issuer", "doc_no", "date", "effective_from", "expires", "status", "scope", "url",
                   "chunks", "source")


def document_id(source: str) -> str:
    """A stable, URL-safe id for the document at ``source`` (its path under the sources folder)."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]


def documents(index_dir: Path, today: dt.date | None = None) -> tuple[str | None, list[dict[str, Any]]]:
    """``(build id, rows)`` of the live build, rows in source order; ``(None, [])`` when nothing is built.

    A document's metadata is its first chunk's (front matter; a section's own ``<!-- meta`` applies to that
    section's chunks only); ``status`` is :func:`assistant.knowledge.lifecycle.status_of` on ``today``.
    """
    built = live_chunks(index_dir)
    if built is None:
        return None, []
    manifest, chunks = built
    rows: dict[str, dict[str, Any]] = {}
    for c in chunks:
        row = rows.get(c.source)
        if row is None:
            meta = c.meta
            rows[c.source] = row = {
                "id": document_id(c.source), "title": c.title, "source": c.source, "chunks": 0,
                "status": status_of(meta, today),
                **{k: (str(meta[k]) if meta.get(k) not in (None, "") else None)
                   for k in ("issuer", "doc_no", "date", "effective_from", "expires", "scope", "url")},
            }
        row["chunks"] += 1
    return str(manifest["build_id"]), list(rows.values())
