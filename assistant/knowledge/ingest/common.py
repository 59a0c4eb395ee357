"""What every loader shares: the error for an unreadable file, text decoding, metadata as strings."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from assistant.errors import IngestError

#: What a loader returns: the text (Markdown-flavoured) and the file's own metadata as strings.
Loaded = tuple[str, dict[str, Any]]


class Unreadable(IngestError):
    """A file that cannot be turned into text; ``reason`` says why without naming the file."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason} — fix or re-export the file, or remove it from the sources folder")
        self.source = source
        self.reason = reason



def normalise(text: str) -> str:
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")



def meta_value(value: Any) -> str | None:
    """Front matter and document properties as strings, so meta stays JSON- and chroma-friendly."""
    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "; ".join(s for s in (meta_value(v) for v in value) if s)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    text = str(value).strip()
    return text or None


def put(meta: dict[str, Any], key: str, value: Any) -> None:
    text = meta_value(value)
    if text:
        meta[key] = text


def decode(raw: bytes, source: str) -> tuple[str, str]:
    """Decode text bytes: UTF-8 (with or without BOM), UTF-16 with a BOM, else GB18030."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise Unreadable(source, f"not valid UTF-16 text: {exc.reason} at byte {exc.start}") from exc
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        # A NUL byte never occurs in GB18030 text; without this check a binary file could decode as junk.
        if b"\x00" not in raw:
            try:
                return raw.decode("gb18030"), "gb18030"
            except UnicodeDecodeError:
                pass
        raise Unreadable(
            source,
            f"not valid UTF-8 (nor GB18030) text: {utf8_error.reason} at byte {utf8_error.start}; save it as UTF-8",
        ) from utf8_error


def table_row(cells: Iterable[Any], text_of: Any) -> str:
    texts = [text_of(c).replace("\n", " ") for c in cells]
    return " | ".join(texts) if any(texts) else ""
