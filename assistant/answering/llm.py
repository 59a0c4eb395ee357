"""ChatModel protocol and its OpenAI-compatible implementation: the only module that imports openai.

:class:`OpenAIChatModel` talks to api.openai.com or any OpenAI-compatible server (llama.cpp, vLLM, Ollama, …)
and turns every failure into :class:`~assistant.errors.LLMError` with a message that says what to do.

>>> model = OpenAIChatModel("gpt-4o-mini", base_url="http://127.0.0.1:8080/v1", api_key=None,
...                         timeout_s=30)                                   # doctest: +SKIP
>>> for event in model.stream([Message("user", "你好")], max_tokens=64):   # doctest: +SKIP
...     print(event if isinstance(event, str) else f"\n{event}", end="")
你好！…
Usage(prompt_tokens=10, completion_tokens=64)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from assistant.data import Message, Usage
from assistant.errors import LLMError
from assistant.text.tokens import count_tokens

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI

OPENAI_BASE_URL = "https://api.openai.com/v1"


def _omit() -> Any:
    import openai

    return openai.omit
#: Sent when a local server needs no key: the client refuses to start without one.
PLACEHOLDER_API_KEY = "not-needed"


class ChatModel(Protocol):
    """A chat model streams text for a list of messages.

    The stream yields text deltas (``str``) and ends with one :class:`Usage`, the token counts of that
    call: each call carries its own counts, nothing is kept on the model between calls.
    """

    name: str

    def stream(self, messages: Sequence[Message], *, max_tokens: int | None = None,
               timeout_s: float | None = None) -> Iterator[str | Usage]:
        """Yield text deltas, then the call's :class:`Usage`. Raises :class:`assistant.errors.LLMError` on any
        backend failure. ``timeout_s`` caps this call's waits (the request's remaining time budget)."""
        ...


def collect(events: Iterator[str | Usage]) -> tuple[str, Usage | None]:
    """The whole text of a :meth:`ChatModel.stream` and its usage (None when the model gave none)."""
    parts: list[str] = []
    usage: Usage | None = None
    for event in events:
        if isinstance(event, Usage):
            usage = event
        else:
            parts.append(event)
    return "".join(parts), usage


class OpenAIChatModel:
    """A :class:`ChatModel` over the official ``openai`` client (chat completions, streamed).

    ``base_url=None`` means api.openai.com and then ``api_key`` is required; with a ``base_url`` and no key a
    placeholder key is sent, since local servers need none. The client is built here, never at import time,
    and reads no environment variable itself: :class:`assistant.config.Settings` does that.
    """

    def __init__(self, model: str, base_url: str | None, api_key: str | None, timeout_s: float,
                 max_retries: int = 0, temperature: float = 0.1) -> None:
        if base_url is not None:
            _check_base_url(base_url)
        elif not api_key:
            raise LLMError("No chat model endpoint configured: set OPENAI_API_KEY (for api.openai.com) "
                           "or OPENAI_BASE_URL (for a local OpenAI-compatible server)")
        self.name = model
        self.base_url = base_url or OPENAI_BASE_URL
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.temperature = temperature
        self._api_key = api_key or PLACEHOLDER_API_KEY
        import openai  # on use: 1.4 s of start-up that the extractive mode never needs

        # Explicit base_url and key: otherwise the client would read OPENAI_* from the environment itself.
        self._client = openai.OpenAI(api_key=self._api_key, base_url=self.base_url, timeout=timeout_s,
                                     max_retries=max_retries)

    def __repr__(self) -> str:  # never the key
        return f"OpenAIChatModel(model={self.name!r}, base_url={_display_url(self.base_url)!r})"

    def stream(self, messages: Sequence[Message], *, max_tokens: int | None = None,
               timeout_s: float | None = None) -> Iterator[str | Usage]:
        """Yield text deltas as the server streams them, then the call's :class:`Usage` (the server's
        counts, or tiktoken's when it reports none). ``timeout_s`` (at most the client's own timeout) caps
        the connection and each wait for the next piece.

        Raises :class:`LLMError` on any failure, also after some deltas were yielded (a broken stream).
        """
        payload: list[Any] = [{"role": m.role, "content": m.content} for m in messages]
        parts: list[str] = []
        usage: Usage | None = None
        timings: dict[str, Any] = {}
        saw_choice = False
        try:
            client = self._client
            if timeout_s is not None and timeout_s < self.timeout_s:
                client = client.with_options(timeout=max(timeout_s, 0.1))
            response = client.chat.completions.create(
                model=self.name, messages=payload, stream=True, stream_options={"include_usage": True},
                temperature=self.temperature,
                # max_tokens, not max_completion_tokens: some llama.cpp servers ignore the latter.
                max_tokens=max_tokens if max_tokens is not None else _omit(),
            )
            with response:
                for chunk in response:
                    if chunk.usage is not None:
                        details = getattr(chunk.usage, "prompt_tokens_details", None)
                        usage = Usage(prompt_tokens=int(chunk.usage.prompt_tokens or 0),
                                      completion_tokens=int(chunk.usage.completion_tokens or 0),
                                      cached_tokens=int(getattr(details, "cached_tokens", 0) or 0))
                    if isinstance(extra := (chunk.model_extra or {}).get("timings"), dict):
                        timings = extra  # llama.cpp's: cache_n, prompt_ms, predicted_ms
                    for choice in chunk.choices or ():
                        saw_choice = True
                        text = choice.delta.content if choice.delta is not None else None
                        if text:
                            parts.append(text)
                            yield text
        except LLMError:
            raise
        except Exception as exc:  # every client, transport and parsing failure becomes one error type
            raise self._error(exc, mid_reply=saw_choice) from exc
        if not saw_choice:
            raise LLMError(f"The chat model at {_display_url(self.base_url)} answered without any choices: is it "
                           "an OpenAI-compatible /v1/chat/completions endpoint? Check OPENAI_BASE_URL")
        if usage is None or usage.total_tokens == 0:
            usage = Usage(prompt_tokens=sum(count_tokens(m.content) for m in messages),
                          completion_tokens=count_tokens("".join(parts)))
        yield _with_timings(usage, timings)

    def _error(self, exc: Exception, *, mid_reply: bool) -> LLMError:
        import openai

        where = _display_url(self.base_url)
        if mid_reply and isinstance(exc, openai.APIConnectionError | openai.APIResponseValidationError):
            msg = (f"The chat model at {where} broke off mid-reply ({_cause(exc)}): the server may have "
                   "stopped or timed out; retry, or check the server's log")
        elif isinstance(exc, openai.APITimeoutError):
            msg = (f"The chat model at {where} did not answer within {self.timeout_s:g}s: "
                   "check the server's load or raise PARK_LLM_TIMEOUT")
        elif isinstance(exc, openai.APIConnectionError):
            msg = (f"Cannot reach the chat model at {where} ({_cause(exc)}): is the server running? "
                   "Check OPENAI_BASE_URL")
        elif isinstance(exc, openai.AuthenticationError):
            msg = f"The chat model at {where} rejected the API key (HTTP 401): check OPENAI_API_KEY"
        elif isinstance(exc, openai.NotFoundError):
            msg = (f"The chat model at {where} answered 404 for model {self.name!r}: check PARK_LLM_MODEL and "
                   "that OPENAI_BASE_URL ends in /v1")
        elif isinstance(exc, openai.RateLimitError):
            msg = f"The chat model at {where} is rate-limiting requests (HTTP 429): wait and retry"
        elif isinstance(exc, openai.APIStatusError):
            msg = (f"The chat model at {where} answered HTTP {exc.status_code}: {_short(exc.message)} — "
                   "check the server's log")
        else:  # the reply could not be parsed, or the client failed in some other way
            msg = (f"The chat model at {where} sent a reply that could not be read ({type(exc).__name__}: "
                   f"{_short(str(exc))}): is it an OpenAI-compatible server? Check OPENAI_BASE_URL")
        return LLMError(self._redact(msg))

    def _redact(self, text: str) -> str:
        if self._api_key and self._api_key != PLACEHOLDER_API_KEY:
            text = text.replace(self._api_key, "***")
        return text


def langchain_chat_model(model: str, base_url: str | None, api_key: str | None, timeout_s: float, *,
                         max_retries: int = 0, temperature: float = 0.1, max_tokens: int | None = None) -> ChatOpenAI:
    """A langchain ``ChatOpenAI`` configured like :class:`OpenAIChatModel` (same arguments, same checks).

    Its errors are langchain's/openai's own, not :class:`LLMError`.
    """
    from langchain_openai import ChatOpenAI  # heavy import, only for callers that want langchain
    from pydantic import SecretStr

    if base_url is not None:
        _check_base_url(base_url)
    elif not api_key:
        raise LLMError("No chat model endpoint configured: set OPENAI_API_KEY or OPENAI_BASE_URL")
    return ChatOpenAI(model=model, base_url=base_url or OPENAI_BASE_URL,
                      api_key=SecretStr(api_key or PLACEHOLDER_API_KEY), timeout=timeout_s, max_retries=max_retries,
                      temperature=temperature, max_completion_tokens=max_tokens, stream_usage=True)


def _with_timings(usage: Usage, timings: dict[str, Any]) -> Usage:
    """``usage`` with the cached prompt tokens and the prompt/generation seconds of llama.cpp's ``timings``."""
    def number(key: str) -> float:
        value = timings.get(key)
        return float(value) if isinstance(value, int | float) else 0.0

    return replace(usage, cached_tokens=usage.cached_tokens or int(number("cache_n")),
                   prompt_s=round(number("prompt_ms") / 1000, 3), generate_s=round(number("predicted_ms") / 1000, 3))


def _check_base_url(base_url: str) -> None:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LLMError(f"OPENAI_BASE_URL={_display_url(base_url)!r} is not an http(s) URL: "
                       "set it like http://127.0.0.1:8080/v1")


def _display_url(url: str) -> str:
    """The URL without any user:password part."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()
    return url


def _cause(exc: BaseException) -> str:
    """The innermost cause's class name ("ConnectError"), more telling than "Connection error."."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return type(exc).__name__


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
