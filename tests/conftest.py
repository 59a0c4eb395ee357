"""Shared fixtures. Tests cannot reach the network by accident: API keys are cleared and every path the
settings know is pointed into the test's tmp_path, except the tiktoken cache (offline, shared, read-only
in effect) and the bundled prompts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.config import Settings

ROOT = Path(__file__).resolve().parent.parent
TINY_SOURCES = Path(__file__).resolve().parent / "data" / "sources"

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(ROOT / ".tiktoken"))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHROMA_HOST", "CHROMA_PORT", "PARK_MODE", "PARK_EMBEDDER",
                "PARK_INDEX_DIR", "PARK_SOURCES_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PARK_FEEDBACK_DB", str(tmp_path / "feedback.sqlite3"))


@pytest.fixture
def tiny_settings(tmp_path: Path) -> Settings:
    """Settings over an empty index folder in tmp_path whose sources are a copy of tests/data/sources."""
    import shutil

    index_dir = tmp_path / "index"
    shutil.copytree(TINY_SOURCES, index_dir / "sources")
    for name in ("glossary.tsv", "park_terms.txt"):
        shutil.copy2(ROOT / "index" / name, index_dir / name)
    return Settings(index_dir=index_dir, feedback_db=tmp_path / "feedback.sqlite3",
                    tiktoken_cache_dir=ROOT / ".tiktoken")
