"""The fault suite: what the probe of the running service broke, each as a test that fails when the fix is removed.

HTTP-layer faults (chunked bodies, forwarded headers, Host) run against a real uvicorn server configured as
``serve`` configures it; the rest use the app in-process. Rebuilds under a serving index are in
``test_reload.py``.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from support import serve_app

from assistant.config import Settings
from assistant.data import Answer, Message
from assistant.testing import FAKE_CHUNK, FakeAssistant
from assistant.web.api import create_app
from assistant.web.server import UVICORN_OPTIONS

PARK = "https://park.example"


def settings(**changes: Any) -> Settings:
    base: dict[str, Any] = {"allowed_origins": (PARK,), "rate_limit_per_minute": 1000}
    return Settings(**{**base, **changes})


@pytest.fixture
def live() -> Iterator[str]:
    """The API on a real uvicorn server, run as ``serve`` runs it."""
    server, thread, base = serve_app(create_app(FakeAssistant(), settings(rate_limit_per_minute=5), None),
                                     **UVICORN_OPTIONS)
    yield base
    server.should_exit = True
    thread.join(10)


def _raw_chunked_post(base: str, path: str, total: int, chunk: int = 64 * 1024) -> tuple[int, int]:
    """POST ``total`` bytes as a chunked body over a raw socket, stopping as soon as the server answers.

    Returns (status, bytes sent). The server must answer without reading the whole body.
    """
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sent = 0
    try:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        piece = b"[" + b"1," * (chunk // 2 - 1) + b"1"
        poller = select.poll()  # not select.select: a long suite's descriptors can pass FD_SETSIZE (1024)
        poller.register(sock, select.POLLIN)
        while sent < total:
            if poller.poll(0):
                break  # answered early: the body was refused while streaming
            try:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        else:
            sock.sendall(b"0\r\n\r\n")
        head = sock.recv(4096).decode("latin-1")
        return int(head.split(" ", 2)[1]), sent
    finally:
        sock.close()


# --- item 2: chunked bodies ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/ask", "/v1/chat/completions", "/api/v1/feedback"])
def test_chunked_body_over_the_limit_is_413_while_streaming(live: str, path: str) -> None:
    status, sent = _raw_chunked_post(live, path, total=64 * 1024 * 1024)
    assert status == 413
    # Refused long before the 64 MB were sent, never buffered whole. What the client counts as sent includes
    # what the loopback socket buffers absorbed before the refusal was read (a few MB, more under load).
    assert sent < 16 * 1024 * 1024


def test_small_chunked_body_still_works(live: str) -> None:
    body = json.dumps({"question": "合作区面积多大？"}).encode()
    r = httpx.post(live + "/api/v1/ask", content=iter([body[:10], body[10:]]),
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["citations"]


# --- item 3: X-Forwarded-For -------------------------------------------------------------------


def test_rotating_forwarded_for_does_not_escape_the_rate_limit(live: str) -> None:
    codes = [httpx.post(live + "/api/v1/ask", json={"question": "面积？"},
                        headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(8)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3


def test_forwarded_for_is_believed_from_a_trusted_proxy_only() -> None:
    app = create_app(FakeAssistant(), settings(rate_limit_per_minute=2, trusted_proxies=("127.0.0.1",)), None)
    server, thread, base = serve_app(app, **UVICORN_OPTIONS)
    try:
        codes = [httpx.post(base + "/api/v1/ask", json={"question": "面积？"},
                            headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(4)]
        assert codes == [200] * 4  # four clients behind the proxy, one request each
        same = [httpx.post(base + "/api/v1/ask", json={"question": "面积？"},
                           headers={"X-Forwarded-For": "198.51.100.1"}).status_code for _ in range(3)]
        assert same == [200, 200, 429]
    finally:
        server.should_exit = True
        thread.join(10)


# --- item 9: Host header ------------------------------------------------------------------------


def test_foreign_host_is_refused_even_with_a_matching_origin(live: str) -> None:
    port = live.rsplit(":", 1)[1]
    r = httpx.post(live + "/api/v1/ask", json={"question": "面积？"},
                   headers={"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "host_not_allowed"
    assert httpx.get(live + "/healthz", headers={"Host": "evil.example"}).status_code == 400
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert httpx.get(live + "/healthz", headers={"Host": host}).status_code == 200


def test_allowed_hosts_setting_replaces_the_default() -> None:
    client = TestClient(create_app(FakeAssistant(), settings(allowed_hosts=("chat.park.example",)), None),
                        base_url="http://chat.park.example")
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz", headers={"Host": "127.0.0.1"}).status_code == 400


# --- item 8: lone surrogates --------------------------------------------------------------------


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": "\\ud800"}]}'),
    ("/v1/chat/completions", '{"messages": [{"role": "user", "content": [{"type": "text", "text": "a\\udfff"}]}]}'),
    ("/v1/chat/completions", '{"messages": [{"role": "assistant", "content": "\\ud800"}, '
                             '{"role": "user", "content": "面积？"}]}'),
    ("/api/v1/ask", '{"question": "\\ud800"}'),
    ("/api/v1/ask/stream", '{"question": "面积", "history": [{"role": "user", "content": "\\udc00"}]}'),
    ("/api/v1/feedback", '{"question": "\\ud800", "answer": "a", "rating": "up"}'),
])
def test_lone_surrogates_are_a_clear_422(path: str, body: str) -> None:
    client = TestClient(create_app(FakeAssistant(), settings(), None), base_url="http://127.0.0.1",
                        raise_server_exceptions=False)
    r = client.post(path, content=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert any(w in r.json()["error"]["message"] for w in ("surrogate", "unicode"))


# --- item 11: smaller things on the edge ----------------------------------------------------------


def test_sources_are_rate_limited() -> None:
    client = TestClient(create_app(FakeAssistant(), settings(rate_limit_per_minute=2), None),
                        base_url="http://127.0.0.1")
    codes = [client.get(f"/api/v1/sources/{FAKE_CHUNK.id}").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_openapi_and_api_responses_forbid_framing() -> None:
    client = TestClient(create_app(FakeAssistant(), settings(), None), base_url="http://127.0.0.1")
    asked = client.post("/api/v1/ask", json={"question": "面积"})
    for r in (client.get("/openapi.json"), client.get("/healthz"), asked):
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert r.headers["x-frame-options"] == "DENY"


# --- the web chat (gradio) behind the same edge: items 4 and 11 ------------------------------------


@pytest.fixture(scope="module")
def whole_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The whole server (API + gradio web chat) over a fake assistant, rate limit 3/min."""
    from assistant.web.server import build_app

    db = tmp_path_factory.mktemp("feedback") / "feedback.sqlite3"
    yield build_app(settings(rate_limit_per_minute=3, feedback_db=db), FakeAssistant())


def test_gradio_event_routes_refuse_a_foreign_origin(whole_app: Any) -> None:
    client = TestClient(whole_app, base_url="http://127.0.0.1")
    r = client.post("/gradio_api/queue/join", json={"fn_index": 0, "data": [], "session_hash": "x"},
                    headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"


def test_gradio_event_routes_share_the_rate_limit(whole_app: Any) -> None:
    client = TestClient(whole_app, base_url="http://127.0.0.1", client=("192.0.2.44", 5000))
    asks = [client.post("/api/v1/ask", json={"question": "面积？"}).status_code for _ in range(2)]
    join = client.post("/gradio_api/queue/join", json={"fn_index": 0, "data": [], "session_hash": "x"})
    after = client.post("/gradio_api/queue/join", json={"fn_index": 0, "data": [], "session_hash": "x"})
    assert asks == [200, 200] and join.status_code != 429
    assert after.status_code == 429 and after.headers["retry-after"]


def test_unknown_api_paths_answer_json_404_not_the_web_chat(whole_app: Any) -> None:
    client = TestClient(whole_app, base_url="http://127.0.0.1")
    for method, path in (("GET", "/api/v1/nope"), ("POST", "/api/v2/ask"), ("GET", "/v1/nothing")):
        r = client.request(method, path)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", (method, path)


def test_web_chat_page_may_be_framed_by_allowed_sites_only(whole_app: Any) -> None:
    r = TestClient(whole_app, base_url="http://127.0.0.1").get("/")
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == f"frame-ancestors 'self' {PARK}"
    assert r.headers["x-frame-options"] == "SAMEORIGIN"


# --- item 5 (the server's part): health answers while every worker thread is busy with answers --------


class StuckAssistant(FakeAssistant):
    """Answers after ``delay_s``, counting the answers under way (as a hung model would hold them)."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(delay_s=delay_s)
        self.entered = 0
        self._lock = threading.Lock()

    def answer(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None) -> Answer:
        with self._lock:
            self.entered += 1
        return super().answer(question, history, lang=lang)


def test_health_answers_while_every_worker_thread_is_stuck_on_an_answer() -> None:
    """Health must not queue behind answers: with every worker thread taken by a slow answer, it returns
    before the first of them does.

    An ordering, not a stopwatch: it holds on a loaded machine, and fails whenever health waits for a worker.
    """
    assistant = StuckAssistant(delay_s=8.0)
    app = create_app(assistant, settings(rate_limit_per_minute=100_000), None)
    server, thread, base = serve_app(app, **UVICORN_OPTIONS)
    client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=100))  # one client: no per-thread setup
    finished: list[float] = []

    def ask() -> None:
        with contextlib.suppress(httpx.HTTPError):  # a refused or timed-out ask is not what this test is about
            client.post(base + "/api/v1/ask", json={"question": "面积？"})
        finished.append(time.monotonic())

    stuck = [threading.Thread(target=ask) for _ in range(60)]
    answered: dict[str, tuple[int, float]] = {}
    try:
        for t in stuck:
            t.start()
        deadline = time.monotonic() + 20
        while assistant.entered < 40 and time.monotonic() < deadline:  # 60 slow answers > 40 worker threads
            time.sleep(0.02)
        assert assistant.entered >= 40, "the worker pool never filled"
        for path in ("/healthz", "/readyz"):
            answered[path] = (httpx.get(base + path, timeout=30).status_code, time.monotonic())
    finally:
        for t in stuck:
            t.join(60)
        client.close()
        server.should_exit = True
        thread.join(10)
    assert len(finished) == 60 and {path: status for path, (status, _) in answered.items()} == {
        "/healthz": 200, "/readyz": 200}
    assert max(at for _, at in answered.values()) < min(finished), "a health check waited for an answer"


def test_chat_completions_stream_flag_must_be_a_boolean() -> None:
    client = TestClient(create_app(FakeAssistant(), settings(), None), base_url="http://127.0.0.1")
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "面积？"}], "stream": "yes"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
