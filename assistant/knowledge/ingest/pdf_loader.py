"""PDF → text, page by page (pypdf), with the document info as metadata."""

from __future__ import annotations

import io
import logging
from typing import Any

from assistant.knowledge.ingest.common import Loaded, Unreadable, normalise, put


def load_pdf(raw: bytes, source: str) -> Loaded:
    from pypdf import PdfReader

    pypdf_log = logging.getLogger("pypdf")
    level = pypdf_log.level
    pypdf_log.setLevel(logging.ERROR)  # its warnings ("EOF marker not found") would print beside our reason
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unreadable(source, "encrypted PDF: remove the password and export it again")
        pages = [page.extract_text() or "" for page in reader.pages]
    except Unreadable:
        raise
    except Exception as exc:  # pypdf raises many types (PdfReadError, ValueError, KeyError…) on broken files
        raise Unreadable(source, f"not a valid PDF: {type(exc).__name__}: {exc}") from exc
    finally:
        pypdf_log.setLevel(level)
    # NUL characters are an extraction artefact (two-byte CID codes read one byte at a time), never content.
    texts = [normalise(p).replace("\x00", "").strip() for p in pages]
    meta: dict[str, Any] = {"pages": len(pages)}
    try:
        info = reader.metadata
    except Exception:  # a broken info dictionary loses the metadata, not the text
        info = None
    if info is not None:
        put(meta, "title", info.title)
        put(meta, "author", info.author)
        try:
            created: Any = info.creation_date
        except Exception:
            created = info.get("/CreationDate")
        put(meta, "created", created)
    if "author" in meta:
        meta.setdefault("issuer", meta["author"])
    return "\n\n".join(t for t in texts if t), meta
