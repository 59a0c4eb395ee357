"""A chat model that fails degrades to a quoted answer with a notice on every channel, never to an error: the real
assistant over the tiny index (fake embedder), its model unreachable, asked through the JSON API, the SSE stream,
the OpenAI-compatible route (streamed and not) and the web chat. The model's address stays in the server log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import make_tiny_index

from assistant.data import Message, Usage
from assistant.errors import LLMError
from assistant.testing import FakeEmbedder
from assistant.web.api import create_app
from assistant.web.feedback import FeedbackStore
from assistant.web.ui_chat import WebChat, new_session
from assistant.wiring import build_assistant

QUESTION = "Which land border crossings does the zone have?"
NOTICE = "The language model is unavailable right now; showing quoted excerpts instead."
ADDRESS = "10.9.8.7:8080"


class Unreachable:
    """A chat model whose endpoint does not answer."""

    name = "unreachable-llm"

    def stream(self, messages: Sequence[Message], *, max_tokens: int | None = None,
               timeout_s: float | None = None) -> Iterator[str | Usage]:
        raise LLMError(f"the chat model at http://{ADDRESS}/v1 did not answer — check OPENAI_BASE_URL")


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = make_tiny_index(tmp_path_factory.mktemp("fallback"))
    return build_assistant(settings, embedder=FakeEmbedder(), chat_model=Unreachable())


@pytest.fixture(scope="module")
def client(assistant: Any) -> TestClient:
    from assistant.config import Settings

    return TestClient(create_app(assistant, Settings(allowed_hosts=("testserver",), rate_limit_per_minute=1000), None))


def assert_quoted(text: str, citations: list[dict[str, Any]], notice: str | None) -> None:
    assert notice == NOTICE
    assert "[1]" in text and citations and "福田口岸" in "".join(c["quote"] for c in citations)
    assert ADDRESS not in text + json.dumps(citations)


def test_the_json_api(client: TestClient) -> None:
    r = client.post("/api/v1/ask", json={"question": QUESTION})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answerable"] and body["mode"] == "extractive"
    assert_quoted(body["answer"], body["citations"], body["notice"])


def test_the_sse_stream(client: TestClient) -> None:
    r = client.post("/api/v1/ask/stream", json={"question": QUESTION})
    assert r.status_code == 200 and ADDRESS not in r.text
    events = [(b.split("\n")[0].removeprefix("event: "), json.loads(b.split("data: ", 1)[1]))
              for b in r.text.split("\n\n") if b.strip()]
    kinds = [k for k, _ in events]
    assert "error" not in kinds and kinds[-1] == "done"
    done, citations = events[-1][1], dict(events)["citations"]["citations"]
    assert done["answerable"]
    assert_quoted(done["answer"], citations, done["notice"])


@pytest.mark.parametrize("stream", [False, True])
def test_the_openai_compatible_route(client: TestClient, stream: bool) -> None:
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}],
                                                  "stream": stream})
    assert r.status_code == 200 and ADDRESS not in r.text
    if not stream:
        body = r.json()
        assert_quoted(body["choices"][0]["message"]["content"], body["citations"], body["notice"])
        return
    chunks = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
    assert all("error" not in c for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert_quoted(text, last["citations"], last["notice"])


def test_the_web_chat(assistant: Any, tmp_path: Path) -> None:
    chat = WebChat(assistant, FeedbackStore(tmp_path / "feedback.sqlite3"))
    *_, (value, _, session, _) = chat.respond(QUESTION, "auto", new_session())
    shown = value[-1]["content"]
    assert NOTICE in shown and "福田口岸" in shown and "Could not answer" not in shown and ADDRESS not in shown
    assert len(session["history"]) == 2  # a quoted answer is an answer: it is history
