"""User-facing strings live in assistant/messages/<lang>.json, one file per language, same keys in each."""

from __future__ import annotations

import pytest

from assistant.lang import LANGS, detect_lang
from assistant.messages import catalogue, text


def test_every_language_has_the_same_keys_and_no_empty_string() -> None:
    keys = {lang: set(catalogue(lang)) for lang in LANGS}
    assert keys["zh-Hans"] == keys["zh-Hant"] == keys["en"]
    assert all(catalogue(lang)[k] for lang in LANGS for k in keys[lang])


@pytest.mark.parametrize("key", ["header", "note.fallback", "decline.no-evidence", "decline.injection"])
def test_strings_are_written_in_their_language(key: str) -> None:
    for lang in LANGS:
        assert detect_lang(text(key, lang)) == lang


def test_unknown_key_or_language_names_what_is_missing() -> None:
    with pytest.raises(KeyError, match=r"no-such-key.*en\.json"):
        text("no-such-key", "en")
    with pytest.raises(KeyError, match="fr"):
        text("header", "fr")
