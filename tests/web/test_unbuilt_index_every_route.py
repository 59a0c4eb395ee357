"""An index that is not built, or must be rebuilt, on every public channel: 503 ``index_not_built`` with a message
that tells the operator what to run and names no server path, headed like any answer. The path — where the index
was looked for — stays in the server log, and the command line still prints it.

The failures are the real ones: the assistant opens the index folder for every request through the real wiring
(``build_assistant``), as a server started before the build would.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from support import make_tiny_settings

import assistant.wiring
from assistant.cli import cli
from assistant.config import Settings
from assistant.data import Answer, Chunk, Filters, Message
from assistant.errors import IndexNotBuiltError
from assistant.knowledge.indexing import INDEX_FORMAT, MANIFEST, store_dir
from assistant.testing import FakeAssistant, FakeEmbedder, InMemoryChromaClient
from assistant.web.api import create_app
from assistant.web.errors import INDEX_NOT_BUILT
from assistant.web.feedback import FeedbackStore
from assistant.web.ui_chat import WebChat, new_session

#: The folder the index lives in: a name no answer would hold, so finding it in a body is the leak.
SECRET_DIR = "srv-park-secret-9f3c"


class Renamed(FakeEmbedder):
    """The fake embedder under another name: an index built by :class:`FakeEmbedder` was not built with it."""

    name = "e5-internal-model-9f3c"


def _manifest(settings: Settings, **fields: Any) -> None:
    store_dir(settings.index_dir).mkdir(parents=True, exist_ok=True)
    (store_dir(settings.index_dir) / MANIFEST).write_text(json.dumps({"build_id": "b9f3c", **fields}), "utf-8")


def _unbuilt(tmp_path: Path, state: str) -> tuple[Settings, FakeEmbedder, InMemoryChromaClient]:
    """Settings over an index folder with a recognisable absolute path, in ``state``."""
    settings = make_tiny_settings(tmp_path / SECRET_DIR)
    client = InMemoryChromaClient()
    if state == "older format":
        _manifest(settings, format=INDEX_FORMAT - 1)
    elif state == "incomplete build":
        _manifest(settings, format=INDEX_FORMAT)
    elif state == "other embedder":
        assistant.wiring.build_indexer(settings, FakeEmbedder(), client=client).build()
        return settings, Renamed(), client
    return settings, FakeEmbedder(), client


STATES = ["not built", "older format", "incomplete build", "other embedder"]


class OpensItsIndex(FakeAssistant):
    """Opens the index folder for every call through the real wiring, and answers with what it opened."""

    def __init__(self, settings: Settings, embedder: FakeEmbedder, client: InMemoryChromaClient) -> None:
        super().__init__()
        self.settings, self.embedder, self.client = settings, embedder, client

    def _open(self) -> Any:
        return assistant.wiring.build_assistant(self.settings, embedder=self.embedder, client=self.client)

    def answer(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None,
               filters: Filters | None = None) -> Answer:
        return self._open().answer(question, history, lang=lang, filters=filters)  # type: ignore[no-any-return]

    def stream(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None,
               filters: Filters | None = None) -> Iterator[Any]:
        yield from self._open().stream(question, history, lang=lang, filters=filters)

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self._open().chunk(chunk_id)  # type: ignore[no-any-return]

    def info(self) -> dict[str, object]:
        return self._open().info()  # type: ignore[no-any-return]


@pytest.fixture(params=STATES)
def unbuilt(request: pytest.FixtureRequest, tmp_path: Path) -> OpensItsIndex:
    return OpensItsIndex(*_unbuilt(tmp_path, request.param))


def _detail(index: OpensItsIndex) -> str:
    """The package's own message: where the index was looked for, or which embedder built it."""
    with pytest.raises(IndexNotBuiltError) as failed:
        index.info()
    return str(failed.value)


def _leaks(text: str, index: OpensItsIndex) -> bool:
    """Whether ``text`` names where the index is, or the embedder the server is configured with."""
    return any(s in text for s in (SECRET_DIR, str(index.settings.index_dir.parent.parent), Renamed.name))


QUESTION = {"question": "合作区总面积有多大？"}
OPENAI = {"messages": [{"role": "user", "content": "合作区总面积有多大？"}]}
ROUTES = [("POST", "/api/v1/ask", QUESTION), ("POST", "/api/v1/ask/stream", QUESTION),
          ("POST", "/v1/chat/completions", OPENAI), ("POST", "/v1/chat/completions", {**OPENAI, "stream": True}),
          ("GET", "/api/v1/sources/abc", None)]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES,
                         ids=["ask", "ask-stream", "chat-completions", "chat-completions-stream", "sources"])
def test_every_route_says_to_build_the_index_without_its_path(unbuilt: OpensItsIndex, caplog: pytest.LogCaptureFixture,
                                                              method: str, path: str, body: Any) -> None:
    app = create_app(unbuilt, Settings(allowed_hosts=("testserver",), rate_limit_per_minute=1000), None)
    r = TestClient(app, raise_server_exceptions=False).request(method, path, json=body)
    assert r.status_code == 503, r.text
    assert r.json() == {"error": {"message": INDEX_NOT_BUILT, "type": "server_error", "code": "index_not_built"}}
    assert "park-assistant index" in INDEX_NOT_BUILT and not _leaks(r.text, unbuilt)
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"
    assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert f"(index_not_built): {_detail(unbuilt)}" in caplog.text  # the operator reads the whole of it


def test_readiness_says_to_build_the_index_without_its_path(unbuilt: OpensItsIndex,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(unbuilt, Settings(allowed_hosts=("testserver",)), None)
    r = TestClient(app, raise_server_exceptions=False).get("/readyz")
    assert r.status_code == 503 and r.json() == {"ready": False, "reason": INDEX_NOT_BUILT, "error": {
        "message": INDEX_NOT_BUILT, "type": "server_error", "code": "index_not_built"}}
    assert not _leaks(r.text, unbuilt)
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"
    assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert f"(index_not_built): {_detail(unbuilt)}" in caplog.text


def test_the_web_chat_says_the_same(unbuilt: OpensItsIndex, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    chat = WebChat(unbuilt, FeedbackStore(tmp_path / "fb.sqlite3"))
    *_, (value, _, session, _) = chat.respond("合作区总面积有多大？", "auto", new_session())
    shown = value[-1]["content"]
    assert "Could not answer" in shown and html.escape(INDEX_NOT_BUILT) in shown and not _leaks(shown, unbuilt)
    assert session["history"] == []
    assert _detail(unbuilt) in caplog.text  # the server log keeps the whole of it


def test_the_command_line_still_names_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At the terminal the operator is the one who reads it: the whole message, the path included."""
    settings, embedder, _ = _unbuilt(tmp_path, "not built")
    monkeypatch.setenv("PARK_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setattr(assistant.wiring, "build_embedder", lambda _: embedder)
    for args in (["ask", "合作区总面积有多大？"], ["search", "面积"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        where = store_dir(settings.index_dir)
        assert result.stderr == f"error: no index at {where} — run `park-assistant index` first\n", args
