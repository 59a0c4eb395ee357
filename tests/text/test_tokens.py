"""The one token counter: tiktoken's own encodings, built offline from the bundled ranks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import tiktoken_ext.openai_public as openai_public
from support import record_syncs

from assistant.text import tokens


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_encoding_matches_tiktoken_reading_the_prepared_cache(name: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    text = "河套深港科技创新合作区总面积约3.89平方公里 — the Hetao zone, 2035 targets [1]."
    ours = tokens.encoding(name)
    tokens.prepare_cache(tmp_path)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    import tiktoken

    theirs = tiktoken.Encoding(**getattr(openai_public, name)())  # reads the prepared cache, no network
    assert ours.encode(text) == theirs.encode(text)
    assert tokens.count_tokens(text, name) == len(theirs.encode(text))


def test_encoding_leaves_the_environment_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    tokens.encoding.cache_clear()
    before = dict(os.environ)
    assert tokens.count_tokens("合作区") > 0
    assert dict(os.environ) == before
    assert openai_public.load_tiktoken_bpe.__name__ == "load_tiktoken_bpe"  # restored after use


def test_bundled_file_with_another_hash_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens.encoding.cache_clear()
    monkeypatch.setattr(tokens, "_bundled", lambda name: b"aGVsbG8= 0\n")
    with pytest.raises(ValueError, match="hash"):
        tokens.encoding("cl100k_base")
    tokens.encoding.cache_clear()


def test_unknown_encoding_is_named() -> None:
    with pytest.raises(ValueError, match="p50k_base"):
        tokens.encoding("p50k_base")


def test_prepare_cache_is_idempotent(tmp_path: Path) -> None:
    first = tokens.prepare_cache(tmp_path)
    stamps = [p.stat().st_mtime_ns for p in first]
    assert tokens.prepare_cache(tmp_path) == first
    assert [p.stat().st_mtime_ns for p in first] == stamps


def test_the_prepared_cache_is_synced_before_and_after_its_rename(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken trusts a cached file it finds: a power cut must not leave one empty or half written."""
    events = record_syncs(monkeypatch)
    written = tokens.prepare_cache(tmp_path)
    assert [kind for kind, _, _ in events] == ["fsync", "replace", "fsync dir"] * len(written)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)  # no temporary left
