"""Shared fixtures. Tests cannot reach the network by accident: API keys are cleared and every path the
settings know is pointed into the test's tmp_path, except the tiktoken cache (offline, shared, read-only
in effect) and the bundled prompts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import REPO, make_tiny_settings

from assistant.config import Settings

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(REPO / ".tiktoken"))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CHROMA_HOST", "CHROMA_PORT", "PARK_MODE", "PARK_EMBEDDER",
                "PARK_INDEX_DIR", "PARK_SOURCES_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PARK_FEEDBACK_DB", str(tmp_path / "feedback.sqlite3"))
    # The packaged local model is installed with the test tools: a test uses it only when it asks to (with
    # PARK_LOCAL_MODEL / Settings.local_model set to its path), never because it happens to be installed.
    monkeypatch.setenv("PARK_LOCAL_MODEL", "off")
    monkeypatch.setattr("assistant.config.packaged_model_installed", lambda: False)


@pytest.fixture
def tiny_settings(tmp_path: Path) -> Settings:
    """Settings over an empty index folder in tmp_path whose sources are a copy of tests/data/sources."""
    return make_tiny_settings(tmp_path)
