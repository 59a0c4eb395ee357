"""Markdown (YAML front matter → metadata) and plain text."""

from __future__ import annotations

import re
from typing import Any

import yaml

from assistant.knowledge.ingest.common import Loaded, Unreadable, decode, normalise, put

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)


def load_markdown(raw: bytes, source: str) -> Loaded:
    text, encoding = decode(raw, source)
    text = normalise(text)
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
        raise Unreadable(source, f"front matter is not valid YAML: {detail}") from exc
    if fields is not None and not isinstance(fields, dict):
        raise Unreadable(source, f"front matter must be 'key: value' lines, got a {type(fields).__name__}")
    for key, value in (fields or {}).items():
        put(meta, str(key), value)
    # The body is kept byte-for-byte after the closing '---' so chunk offsets point into the file's text.
    return text[match.end() :], meta


def load_text(raw: bytes, source: str) -> Loaded:
    text, encoding = decode(raw, source)
    return text, {"encoding": encoding}
