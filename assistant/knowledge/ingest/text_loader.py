"""Markdown (YAML front matter → metadata) and plain text."""

from __future__ import annotations

import re
from typing import Any

import yaml

from assistant.knowledge.ingest.common import Loaded, Unreadable, decode, normalise, put
from assistant.knowledge.section_meta import meta_blocks, parse_section_meta

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)


def load_markdown(raw: bytes, source: str) -> Loaded:
    text, encoding = decode(raw, source)
    text = normalise(text)
    meta: dict[str, Any] = {}
    if encoding != "utf-8":
        meta["encoding"] = encoding
    match = _FRONT_MATTER.match(text)
    if not match:
        _check_section_meta(text, 0, source)
        return text, meta
    try:
        fields = yaml.safe_load(match.group(1) or "")
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise Unreadable(source, f"front matter is not valid YAML: {detail}") from exc
    if fields is not None and not isinstance(fields, dict):
        raise Unreadable(source, f"front matter must be 'key: value' lines, got a {type(fields).__name__}")
    for key, value in (fields or {}).items():
        put(meta, str(key), value)
    # The body is kept byte-for-byte after the closing '---' so chunk offsets point into the file's text.
    body = text[match.end() :]
    _check_section_meta(body, text[: match.end()].count("\n"), source)
    return body, meta


def _check_section_meta(body: str, lines_before: int, source: str) -> None:
    """Refuse a file whose ``<!-- meta`` blocks are broken, naming the line (editors fix it; nothing is guessed)."""
    for start, _end, block in meta_blocks(body):
        try:
            parse_section_meta(block)
        except ValueError as exc:
            line = lines_before + body[:start].count("\n") + 1
            raise Unreadable(source, f"line {line}: {exc}") from None


def load_text(raw: bytes, source: str) -> Loaded:
    text, encoding = decode(raw, source)
    return text, {"encoding": encoding}
