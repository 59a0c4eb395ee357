"""Settings: precedence, validation that names the variable, origins, secrets, effective answer mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import ConfigError


def test_precedence_override_over_env_over_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env({}).top_k == 6
    assert Settings.from_env({"PARK_TOP_K": "9"}).top_k == 9
    assert Settings.from_env({"PARK_TOP_K": "9"}, top_k=3).top_k == 3
    # An override of None means "not given": the environment still applies.
    assert Settings.from_env({"PARK_TOP_K": "9"}, top_k=None).top_k == 9
    # An empty variable counts as unset.
    assert Settings.from_env({"PARK_TOP_K": ""}).top_k == 6
    # Without an explicit mapping, os.environ is read.
    monkeypatch.setenv("PARK_LLM_MODEL", "qwen2.5-7b")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    s = Settings.from_env()
    assert s.llm_model == "qwen2.5-7b" and s.openai_base_url == "http://127.0.0.1:9/v1"
    assert Settings.from_env(llm_model="gpt-4o-mini").llm_model == "gpt-4o-mini"


def test_values_are_parsed_to_their_types(tmp_path: Path) -> None:
    s = Settings.from_env({"PARK_LLM_TIMEOUT": "2.5", "PARK_PORT": "8080", "PARK_INDEX_DIR": str(tmp_path / "idx"),
                           "CHROMA_HOST": "chroma.local", "CHROMA_PORT": "8001", "PARK_MODE": "extractive"})
    assert s.llm_timeout_s == 2.5 and s.port == 8080 and s.chroma_port == 8001
    assert s.index_dir == tmp_path / "idx" and isinstance(s.index_dir, Path)
    assert s.sources == tmp_path / "idx" / "sources"  # follows the index folder unless set
    assert Settings.from_env({"PARK_SOURCES_DIR": str(tmp_path / "docs")}).sources == tmp_path / "docs"
    assert Settings.from_env({"PARK_INDEX_DIR": "~/idx"}).index_dir == Path("~/idx").expanduser()


@pytest.mark.parametrize(
    ("var", "raw"),
    [("PARK_TOP_K", "six"), ("PARK_PORT", "80.5"), ("CHROMA_PORT", "x"), ("PARK_LLM_TIMEOUT", "soon"),
     ("PARK_RATE_LIMIT", "many"), ("PARK_PRICE_PROMPT_PER_M", "$0.15")],
)
def test_bad_numbers_name_the_variable(var: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=var) as err:
        Settings.from_env({var: raw})
    assert raw in str(err.value)


@pytest.mark.parametrize(("var", "raw"), [("PARK_MODE", "generative"), ("PARK_EMBEDDER", "bert")])
def test_bad_choices_name_the_variable_and_the_choices(var: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=var) as err:
        Settings.from_env({var: raw})
    assert "expected one of" in str(err.value)


def test_unknown_override_is_rejected() -> None:
    with pytest.raises(ConfigError, match="colour"):
        Settings.from_env({}, colour="blue")


def test_allowed_origins_parsing() -> None:
    s = Settings.from_env({"PARK_ALLOWED_ORIGINS": " https://hetao.example/ ,http://localhost:3000,, "})
    assert s.allowed_origins == ("https://hetao.example", "http://localhost:3000")
    assert Settings.from_env({}).allowed_origins == ()


def test_api_key_never_in_repr() -> None:
    s = Settings.from_env({"OPENAI_API_KEY": "sk-very-secret-123"})
    assert s.openai_api_key == "sk-very-secret-123"
    assert "sk-very-secret-123" not in repr(s)
    assert "sk-very-secret-123" not in str(s)
    assert "sk-very-secret-123" not in repr(s.with_(top_k=2))


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({}, "extractive"),
        ({"OPENAI_API_KEY": "sk-x"}, "llm"),
        ({"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1"}, "llm"),  # a local server needs no key
        ({"PARK_MODE": "extractive", "OPENAI_API_KEY": "sk-x"}, "extractive"),
        ({"PARK_MODE": "llm", "OPENAI_API_KEY": "sk-x"}, "llm"),
        ({"PARK_MODE": "auto", "OPENAI_BASE_URL": "http://h/v1"}, "llm"),
    ],
)
def test_answer_mode(env: dict[str, str], mode: str) -> None:
    assert Settings.from_env(env).answer_mode == mode


def test_llm_mode_without_endpoint_says_what_to_set() -> None:
    s = Settings.from_env({"PARK_MODE": "llm"})
    assert not s.llm_configured
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL"):
        _ = s.answer_mode


def test_settings_are_frozen_and_with_copies() -> None:
    s = Settings()
    with pytest.raises(AttributeError):
        s.top_k = 3  # type: ignore[misc]
    t = s.with_(top_k=3)
    assert (s.top_k, t.top_k) == (6, 3)
