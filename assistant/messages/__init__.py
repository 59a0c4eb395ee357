"""User-facing strings, one JSON file per language (``zh-Hans.json``, ``zh-Hant.json``, ``en.json``).

Strings are data, not code: a translator edits the files, and every language has the same keys (a test
checks it).

>>> text("note.fallback", "en")
'The language model is unavailable right now; showing quoted excerpts instead.'
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from assistant.lang import LANGS


@cache
def catalogue(lang: str) -> dict[str, str]:
    """All strings of ``lang`` (one of :data:`assistant.lang.LANGS`)."""
    if lang not in LANGS:
        raise KeyError(f"no messages for language {lang!r}; expected one of {', '.join(LANGS)}")
    data: dict[str, str] = json.loads(resources.files(__name__).joinpath(f"{lang}.json").read_text(encoding="utf-8"))
    return data


def text(key: str, lang: str) -> str:
    """The string ``key`` in ``lang``; a missing key is a KeyError that names it."""
    strings = catalogue(lang)
    if key not in strings:
        raise KeyError(f"message {key!r} is missing from assistant/messages/{lang}.json")
    return strings[key]
