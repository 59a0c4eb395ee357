"""The one limits policy: how large a question, a history and a request may be, and how often a client may ask.

Settings hold the numbers (:attr:`assistant.config.Settings.limits`); :meth:`Limits.check` enforces the
conversation limits and raises :class:`~assistant.errors.LimitError` (too large) or
:class:`~assistant.errors.InputError` (empty, malformed text). The outer layers only translate: the API answers
413/422 with the error's ``code``, the web chat shows the message. The server enforces ``max_body_bytes`` and
``rate_per_minute`` on every route that runs the assistant, with these same numbers.

>>> Limits(max_question_chars=10).check("合作区面积多大？", [])[0]
'合作区面积多大？'
>>> Limits(max_question_chars=3).check("合作区面积多大？", [])
Traceback (most recent call last):
...
assistant.errors.LimitError: The question has 8 characters; at most 3 are accepted — shorten it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from assistant.data import Message, Role
from assistant.errors import InputError, LimitError

#: A UTF-16 surrogate cannot stand alone in text; JSON's ``\\ud800`` escape produces one.
_SURROGATE = re.compile("[\ud800-\udfff]")


class Turn(Protocol):
    """A chat turn as any adapter holds it (the API's pydantic model, a :class:`Message`)."""

    @property
    def role(self) -> Role: ...

    @property
    def content(self) -> str: ...


def has_surrogates(text: str) -> bool:
    """True when ``text`` holds lone UTF-16 surrogates (invalid Unicode that no encoder accepts)."""
    return _SURROGATE.search(text) is not None


def check_text(text: str, what: str = "The text") -> str:
    """``text`` unchanged, or :class:`InputError` when it holds lone surrogates."""
    if has_surrogates(text):
        raise InputError(f"{what} contains invalid characters (lone UTF-16 surrogates) — send valid UTF-8 text.",
                         code="invalid_text")
    return text


@dataclass(frozen=True)
class Limits:
    """Sizes and rates every entry point applies (API, OpenAI-compatible API, web chat)."""

    max_question_chars: int = 1000
    max_history_turns: int = 10  # a turn is a question and its answer
    max_message_chars: int = 4000  # one earlier message of the history
    max_body_bytes: int = 256 * 1024  # far above any valid request (question + history + feedback)
    max_upload_bytes: int = 20 * 1024 * 1024  # a document uploaded through the admin API
    rate_per_minute: int = 30  # requests that run the assistant, per client

    @property
    def max_history_messages(self) -> int:
        return 2 * self.max_history_turns

    def check(self, question: str, history: Sequence[Turn]) -> tuple[str, list[Message]]:
        """The stripped question and the history as messages; raises when a limit is broken."""
        question = check_text((question or "").strip(), "The question")
        if not question:
            raise InputError("The question is empty — type a question about the Hetao zone.", code="empty_question")
        if len(question) > self.max_question_chars:
            raise LimitError(f"The question has {len(question)} characters; at most {self.max_question_chars} "
                             "are accepted — shorten it.", code="question_too_long")
        if len(history) > self.max_history_messages:
            raise LimitError(f"The history has {len(history)} messages; at most {self.max_history_messages} "
                             f"({self.max_history_turns} turns) are accepted — send only the most recent turns.",
                             code="history_too_long")
        for i, turn in enumerate(history):
            check_text(turn.content, f"History message {i}")
            if len(turn.content) > self.max_message_chars:
                raise LimitError(f"History message {i} has {len(turn.content)} characters; at most "
                                 f"{self.max_message_chars} are accepted per message.",
                                 code="history_message_too_long")
        return question, [Message(role=t.role, content=t.content) for t in history]

    def recent(self, history: Sequence[Message]) -> list[Message]:
        """The most recent turns that fit (the web chat keeps its own history and trims it)."""
        return list(history[-self.max_history_messages:]) if self.max_history_turns > 0 else []
