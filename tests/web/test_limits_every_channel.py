"""The question and history limits on every channel that answers: the SSE stream, the OpenAI-compatible route
(streamed and not) and the web chat refuse what the JSON API refuses (``test_api.py``), with the same clear code
and message, before the assistant is asked; and what is within the limits reaches the assistant whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.data import Answer, Message
from assistant.limits import Limits
from assistant.testing import FakeAssistant
from assistant.web.api import create_app
from assistant.web.feedback import FeedbackStore
from assistant.web.ui_chat import WebChat, new_session

MAX_Q, TURNS = 200, 2
LONG = "x" * (Limits().max_message_chars + 1)
#: (question, history, status, code)
BAD = [("问" * (MAX_Q + 1), [], 413, "question_too_long"),
       ("问", [("user", "x"), ("assistant", "y")] * (TURNS + 1), 413, "history_too_long"),
       ("问", [("user", LONG)], 413, "history_message_too_long"),
       ("问", [("user", "x"), ("assistant", LONG)], 413, "history_message_too_long"),  # an answer the client sends back
       ("   ", [], 422, "empty_question")]
BAD_IDS = ["question_too_long", "history_too_long", "history_message_too_long", "answer_in_history_too_long",
           "empty_question"]
#: The web chat keeps only the most recent turns itself (so no history is too long), and its text comes from the
#: browser as str, lone surrogates and all (the API's JSON with them is in test_faults.py).
WEB_BAD = [b for b in BAD if b[3] != "history_too_long"] + [("\ud800问", [], 422, "invalid_text")]
WEB_BAD_IDS = [i for i in BAD_IDS if i != "history_too_long"] + ["invalid_text"]


class Recording(FakeAssistant):
    """Remembers the question and history each answer was asked with."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, list[Message]]] = []

    def answer(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None) -> Answer:
        self.asked.append((question, list(history)))
        return super().answer(question, history, lang=lang)

    def stream(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None) -> Iterator[Any]:
        self.asked.append((question, list(history)))
        yield from super().stream(question, history, lang=lang)


def settings() -> Settings:
    return Settings(allowed_hosts=("testserver",), rate_limit_per_minute=1000, max_question_chars=MAX_Q,
                    max_history_turns=TURNS)


def request(channel: str, question: str, history: list[tuple[str, str]]) -> tuple[str, dict[str, Any]]:
    turns = [{"role": r, "content": c} for r, c in history]
    if channel.startswith("/v1/"):
        return "/v1/chat/completions", {"messages": [*turns, {"role": "user", "content": question}],
                                        "stream": channel.endswith("stream")}
    return channel, {"question": question, "history": turns}


CHANNELS = ["/api/v1/ask", "/api/v1/ask/stream", "/v1/chat/completions", "/v1/chat/completions stream"]


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(("question", "history", "status", "code"), BAD, ids=BAD_IDS)
def test_every_api_channel_refuses_what_breaks_a_limit(channel: str, question: str, history: list[tuple[str, str]],
                                                       status: int, code: str) -> None:
    fake = Recording()
    path, body = request(channel, question, history)
    r = TestClient(create_app(fake, settings(), None)).post(path, json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and len(error["message"]) > 20
    assert fake.asked == []  # refused before the assistant was asked


@pytest.mark.parametrize("channel", CHANNELS)
def test_what_is_within_the_limits_arrives_whole(channel: str) -> None:
    fake = Recording()
    question = "问" * MAX_Q
    history = [("user", "x" * Limits().max_message_chars), ("assistant", "答[1]")] * TURNS
    path, body = request(channel, question, history)
    assert TestClient(create_app(fake, settings(), None)).post(path, json=body).status_code == 200
    assert fake.asked == [(question, [Message(r, c) for r, c in history])]


@pytest.mark.parametrize(("question", "history", "status", "code"), WEB_BAD, ids=WEB_BAD_IDS)
def test_the_web_chat_says_what_breaks_a_limit(tmp_path: Path, question: str, history: list[tuple[str, str]],
                                               status: int, code: str) -> None:
    fake = Recording()
    chat = WebChat(fake, FeedbackStore(tmp_path / "fb.sqlite3"), limits=settings().limits)
    session = {**new_session(), "history": [{"role": r, "content": c} for r, c in history]}
    *_, (value, _, after, _) = chat.respond(question, "auto", session)
    if not question.strip():
        assert value == [] and fake.asked == []  # nothing to ask
        return
    assert "Could not answer" in value[-1]["content"] and fake.asked == []
    assert after["history"] == session["history"]  # the refused turn is no history
