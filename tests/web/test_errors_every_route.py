"""A failure behind the assistant, on every channel that answers: the right status and code (never a bare 500
for a known fault, never a stack trace), before the stream starts as a status, midway as an error event, and told
without the internal addresses its message holds (those stay in the server log). The web chat says the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.data import Answer, Chunk, Delta, Message
from assistant.errors import AssistantError, ConfigError, EmbeddingError, IndexNotBuiltError, LLMError, StoreError
from assistant.testing import FAKE_CHUNK, FakeAssistant
from assistant.web.api import create_app
from assistant.web.feedback import FeedbackStore
from assistant.web.ui_chat import WebChat, new_session

SECRET = "10.9.8.7"
#: (the failure, status, code, a word of what users are told); the secret is the internal address.
FAULTS = [
    (IndexNotBuiltError("No index at index/store — run `park-assistant index`"), 503, "index_not_built", "index"),
    (LLMError(f"the chat model at http://{SECRET}:8080 timed out — check OPENAI_BASE_URL"), 502, "llm_unavailable",
     "language model"),
    (StoreError(f"cannot open the chroma server at {SECRET}:8000 — is `chroma run` up?"), 503, "store_unavailable",
     "knowledge base"),
    (EmbeddingError(f"embedding endpoint http://{SECRET}/embeddings failed"), 503, "embedding_failed", "search model"),
    (ConfigError(f"OPENAI_BASE_URL=http://{SECRET} is not a URL"), 500, "misconfigured", "misconfigured"),
    (AssistantError(f"feedback database /srv/{SECRET}/feedback.sqlite3 failed: disk I/O error — check that "
                    "PARK_FEEDBACK_DB points to a writable file on a local disk"), 500, "assistant_error",
     "Internal error"),
    (RuntimeError(f"KeyError in /srv/{SECRET}/secret.py"), 500, "internal_error", "Internal error"),
]
IDS = [type(f[0]).__name__ for f in FAULTS]


class Failing(FakeAssistant):
    """Fails with ``exc`` at once, or — for streams with ``midway`` — after the sources and some text."""

    def __init__(self, exc: Exception, midway: bool = False) -> None:
        super().__init__()
        self.exc, self.midway = exc, midway

    def answer(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None) -> Answer:
        raise self.exc

    def stream(self, question: str, history: Sequence[Message] = (), *,
               lang: str | None = None) -> Iterator[Any]:
        if self.midway:
            yield from list(super().stream(question, history, lang=lang))[:3]
        raise self.exc

    def chunk(self, chunk_id: str) -> Chunk | None:
        raise self.exc


def client(exc: Exception, midway: bool = False) -> TestClient:
    settings = Settings(allowed_hosts=("testserver",), rate_limit_per_minute=1000)
    return TestClient(create_app(Failing(exc, midway), settings, None), raise_server_exceptions=False)


#: Requests that fail before anything is sent: the status code tells.
AT_ONCE = [("POST", "/api/v1/ask", {"question": "面积？"}),
           ("POST", "/api/v1/ask/stream", {"question": "面积？"}),
           ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "面积？"}]}),
           ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "面积？"}], "stream": True}),
           ("GET", f"/api/v1/sources/{FAKE_CHUNK.id}", None)]


@pytest.mark.parametrize(("method", "path", "body"), AT_ONCE, ids=[f"{m} {p} {bool(b and b.get('stream'))}"
                                                                   for m, p, b in AT_ONCE])
@pytest.mark.parametrize(("exc", "status", "code", "word"), FAULTS, ids=IDS)
def test_a_failure_before_the_answer_is_its_status_and_code(method: str, path: str, body: Any, exc: Exception,
                                                            status: int, code: str, word: str) -> None:
    r = client(exc).request(method, path, json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and word in error["message"]
    assert error["type"] == "server_error"
    assert SECRET not in r.text and "Traceback" not in r.text


@pytest.mark.parametrize(("exc", "status", "code", "word"), FAULTS, ids=IDS)
def test_a_failure_midway_through_the_api_stream_is_an_error_event(exc: Exception, status: int, code: str,
                                                                   word: str) -> None:
    r = client(exc, midway=True).post("/api/v1/ask/stream", json={"question": "面积？"})
    assert r.status_code == 200 and SECRET not in r.text
    blocks = [b for b in r.text.split("\n\n") if b.strip()]
    kinds = [b.split("\n")[0].removeprefix("event: ") for b in blocks]
    assert kinds[0] == "sources" and kinds[-1] == "error" and "delta" in kinds
    error = json.loads(blocks[-1].split("data: ", 1)[1])
    assert error["code"] == code and word in error["message"]


@pytest.mark.parametrize(("exc", "status", "code", "word"), FAULTS, ids=IDS)
def test_a_failure_midway_through_the_openai_stream_is_an_error_chunk(exc: Exception, status: int, code: str,
                                                                      word: str) -> None:
    r = client(exc, midway=True).post("/v1/chat/completions", json={
        "messages": [{"role": "user", "content": "面积？"}], "stream": True})
    assert r.status_code == 200 and SECRET not in r.text
    data = [line.removeprefix("data: ") for line in r.text.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    error = json.loads(data[-2])["error"]
    assert error["code"] == code and word in error["message"]
    assert any(json.loads(d).get("choices", [{}])[0].get("delta", {}).get("content") for d in data[1:-2])


def test_a_stream_that_ends_without_an_answer_says_so() -> None:
    class Silent(FakeAssistant):
        def stream(self, question: str, history: Sequence[Message] = (), *,
                   lang: str | None = None) -> Iterator[Any]:
            yield Delta("河套")

    app = create_app(Silent(), Settings(allowed_hosts=("testserver",)), None)
    r = TestClient(app).post("/api/v1/ask/stream", json={"question": "面积？"})
    assert r.text.rstrip().endswith('"code": "empty_stream"}')
    r = TestClient(app).post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "面积？"}],
                                                           "stream": True})
    assert '"code": "empty_stream"' in r.text and r.text.rstrip().endswith("data: [DONE]")


@pytest.mark.parametrize(("exc", "status", "code", "word"), FAULTS, ids=IDS)
def test_the_web_chat_tells_the_same_without_internal_addresses(tmp_path: Path, exc: Exception, status: int,
                                                                code: str, word: str) -> None:
    chat = WebChat(Failing(exc, midway=True), FeedbackStore(tmp_path / "fb.sqlite3"))
    *_, (value, _, session, _) = chat.respond("面积？", "auto", new_session())
    shown = value[-1]["content"]
    assert "Could not answer" in shown and word in shown and SECRET not in shown and "Traceback" not in shown
    assert "PARK_FEEDBACK_DB" not in shown and session["history"] == []  # the failed turn is no history


class CannotSay(FakeAssistant):
    """Its readiness check fails with ``exc`` (an index it cannot open, a store it cannot reach)."""

    def __init__(self, exc: Exception) -> None:
        super().__init__()
        self.exc = exc

    def info(self) -> dict[str, object]:
        raise self.exc


@pytest.mark.parametrize(("exc", "status", "code", "word"), FAULTS, ids=IDS)
def test_readiness_tells_why_without_internal_addresses(caplog: pytest.LogCaptureFixture, exc: Exception,
                                                        status: int, code: str, word: str) -> None:
    """/readyz is public: a failure of the readiness check is 503 with the code and public message every route
    gives, the ``reason`` too, headed like any answer; the internal address or path is in the server log only."""
    app = create_app(CannotSay(exc), Settings(allowed_hosts=("testserver",)), None)
    r = TestClient(app, raise_server_exceptions=False).get("/readyz")
    body = r.json()
    assert r.status_code == 503 and body["ready"] is False, r.text
    assert body["error"] == {"message": body["reason"], "type": "server_error", "code": code}
    assert word in body["reason"] and SECRET not in r.text and "Traceback" not in r.text
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"
    assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert str(exc) in caplog.text  # the operator still reads the whole of it


class BrokenLog:
    """A question log whose database cannot be written."""

    def record(self, question: str, **fields: Any) -> int:
        raise AssistantError(f"question log /srv/{SECRET}/feedback.sqlite3 failed: disk I/O error")


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/ask", {"question": "面积？"}), ("/api/v1/ask/stream", {"question": "面积？"}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "面积？"}]}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "面积？"}], "stream": True})])
def test_a_question_log_that_cannot_be_written_never_costs_the_answer(path: str, body: dict[str, Any]) -> None:
    app = create_app(FakeAssistant(), Settings(allowed_hosts=("testserver",)), None, BrokenLog())  # type: ignore[arg-type]
    r = TestClient(app, raise_server_exceptions=False).post(path, json=body)
    assert r.status_code == 200 and "[1]" in r.text and SECRET not in r.text and "error" not in r.text


def test_the_web_chat_answers_when_its_question_log_cannot_be_written(tmp_path: Path) -> None:
    chat = WebChat(FakeAssistant(), FeedbackStore(tmp_path / "fb.sqlite3"), questions=BrokenLog())
    *_, (value, _, session, _) = chat.respond("面积？", "auto", new_session())
    assert "Could not answer" not in value[-1]["content"] and len(session["history"]) == 2


@pytest.mark.parametrize(("method", "path", "status"), [("POST", "/healthz", 405), ("PUT", "/widget.js", 405),
                                                        ("DELETE", "/readyz", 405), ("GET", "/api/v1/ask", 404),
                                                        ("POST", "/v1/models", 404)])
def test_a_wrong_method_or_path_is_the_same_error_shape(method: str, path: str, status: int) -> None:
    """What the framework refuses (405 with its Allow header) reads like every other error, for OpenAI clients too."""
    r = client(RuntimeError("unused")).request(method, path)
    error = r.json()["error"]
    assert r.status_code == status and set(r.json()) == {"error"}
    assert set(error) == {"message", "type", "code"} and error["type"] == "invalid_request_error"
    if status == 405:
        assert r.headers["allow"] and error["code"] == "http_error"
