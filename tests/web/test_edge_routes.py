"""The edge, route by route: every route that runs the assistant, reads the index or serves the editors counts
against the rate limit, refuses a foreign Origin and Host and a body over the limit (declared or chunked), and
every response carries its security headers. One table of routes over the whole server (API, OpenAI-compatible
API, admin API, gradio web chat), so a route that loses a check fails here under its own name.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import make_tiny_settings

from assistant.limits import Limits
from assistant.testing import FAKE_CHUNK, FakeAssistant, FakeEmbedder
from assistant.web.admin import AdminTools
from assistant.web.jobs import IndexJobs

PARK, EVIL = "https://park.example", "https://evil.example"
TOKEN = "edge-test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
UPLOAD_MB = 0.05  # the upload limit: 52 KB (+ 64 KB for the multipart framing at the edge)
QUESTION = {"question": "合作区面积多大？"}
MESSAGES = {"messages": [{"role": "user", "content": "合作区面积多大？"}]}
FEEDBACK = {"question": "合作区面积多大？", "answer": "约3.89平方公里[1]", "rating": "up"}
GRADIO_EVENT = {"fn_index": 0, "data": [], "session_hash": "edge"}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


#: Every request that runs the assistant, reads the index or is an editor's: each counts against the rate limit.
LIMITED = [
    Route("POST", "/api/v1/ask", {"json": QUESTION}),
    Route("POST", "/api/v1/ask/stream", {"json": QUESTION}),
    Route("POST", "/api/v1/feedback", {"json": FEEDBACK}),
    Route("POST", "/v1/chat/completions", {"json": MESSAGES}),
    Route("POST", "/v1/chat/completions#stream", {"json": {**MESSAGES, "stream": True}}),
    Route("GET", f"/api/v1/sources/{FAKE_CHUNK.id}"),
    Route("GET", "/api/v1/admin/documents", {"headers": AUTH}),
    Route("POST", "/api/v1/admin/documents", {"headers": AUTH, "files": {"file": ("a.exe", b"MZ", "text/plain")}}),
    Route("DELETE", "/api/v1/admin/documents/nope", {"headers": AUTH}),
    Route("GET", "/api/v1/admin/gaps", {"headers": AUTH}),
    Route("GET", "/api/v1/admin/feedback", {"headers": AUTH}),
    Route("POST", "/gradio_api/queue/join", {"json": GRADIO_EVENT}),
    Route("POST", "/gradio_api/run/predict", {"json": {"data": []}}),
    Route("POST", "/gradio_api/api/predict", {"json": {"data": []}}),
    Route("POST", "/gradio_api/call/predict", {"json": {"data": []}}),
    Route("POST", "/gradio_api/upload", {"json": {}}),  # refused by gradio unread: no file written
]
MODELS, JOB_STATUS = Route("GET", "/v1/models"), Route("GET", "/api/v1/admin/jobs/nope", {"headers": AUTH})
#: Health, the widget, the schema, the model list, the web chat's page and a job's status: never limited.
UNLIMITED = [Route("GET", "/healthz"), Route("GET", "/readyz"), Route("GET", "/widget.js"), Route("HEAD", "/widget.js"),
             Route("GET", "/openapi.json"), MODELS, Route("GET", "/"), JOB_STATUS]
#: Routes whose answer is JSON (or an event stream): no framing, no caching, no content of their own to run.
LOCKED_DOWN = [r for r in LIMITED if not r.path.startswith("/gradio_api/")] + [
    Route("GET", "/healthz"), Route("GET", "/readyz"), Route("GET", "/openapi.json"), MODELS, JOB_STATUS,
    Route("GET", "/api/v1/nope")]
#: Every POST whose body is a question, a rating or a gradio event (the admin upload has its own limit).
BODIES = [r for r in LIMITED if r.method == "POST" and r.path not in ("/api/v1/admin/documents", "/gradio_api/upload")]

_addresses = (f"198.51.100.{i}" for i in itertools.count(1))


@pytest.fixture(scope="module")
def whole_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The whole server (API, admin API, gradio web chat) over a fake assistant; 1 request a minute a client."""
    from assistant.web.server import build_app

    settings = make_tiny_settings(tmp_path_factory.mktemp("edge"), allowed_origins=(PARK,), admin_token=TOKEN,
                                  rate_limit_per_minute=1, max_upload_mb=UPLOAD_MB)
    tools = AdminTools(IndexJobs(lambda progress: None), lambda texts: FakeEmbedder().embed(texts, "query"))
    yield build_app(settings, FakeAssistant(), tools)


def fresh_client(app: Any) -> TestClient:
    """A client from an address no other test used: its rate-limit window is empty. (The web chat's events are
    all private: gradio fails on a call by name, which is no concern of the edge.)"""
    return TestClient(app, base_url="http://127.0.0.1", client=(next(_addresses), 5000), raise_server_exceptions=False)


def call(client: TestClient, route: Route, **changes: Any) -> Any:
    kwargs = {**route.kwargs, **changes}
    kwargs["headers"] = {**route.kwargs.get("headers", {}), **changes.get("headers", {})}
    return client.request(route.method, route.path.split("#")[0], **kwargs)


@pytest.mark.parametrize("route", LIMITED, ids=str)
def test_every_limited_route_answers_429_past_the_limit(whole_app: Any, route: Route) -> None:
    client = fresh_client(whole_app)
    first, second = call(client, route), call(client, route)
    assert first.status_code != 429, first.text
    assert second.status_code == 429, f"{route} is not rate-limited"
    assert second.json()["error"]["code"] == "rate_limited" and 1 <= int(second.headers["retry-after"]) <= 60


@pytest.mark.parametrize("route", UNLIMITED, ids=str)
def test_health_widget_schema_and_job_polling_are_never_limited(whole_app: Any, route: Route) -> None:
    client = fresh_client(whole_app)
    codes = [call(client, route).status_code for _ in range(3)]
    assert 429 not in codes and codes[0] < 500, codes


@pytest.mark.parametrize("route", [*LIMITED, MODELS, JOB_STATUS], ids=str)
def test_every_api_route_refuses_a_foreign_origin(whole_app: Any, route: Route) -> None:
    r = call(fresh_client(whole_app), route, headers={"Origin": EVIL})
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed", f"{route}: {r.status_code}"
    assert "access-control-allow-origin" not in r.headers
    allowed = call(fresh_client(whole_app), route, headers={"Origin": PARK})
    assert allowed.status_code != 403


#: Origins that only look like the allowed site: a longer name, another scheme, another port.
LOOKALIKES = [PARK + ".evil.example", PARK + "s", PARK + ":8443", PARK.replace("https", "http"), PARK + "@evil.example"]


@pytest.mark.parametrize("origin", LOOKALIKES)
def test_an_origin_that_only_looks_like_an_allowed_site_is_refused(whole_app: Any, origin: str) -> None:
    """The allowed list names whole origins: a site whose origin merely starts like an allowed one is foreign."""
    r = call(fresh_client(whole_app), LIMITED[0], headers={"Origin": origin})
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed", f"{origin}: {r.status_code}"
    assert call(fresh_client(whole_app), LIMITED[0], headers={"Origin": PARK + "/"}).status_code == 200


@pytest.mark.parametrize("route", LIMITED + UNLIMITED, ids=str)
def test_every_route_refuses_a_foreign_host(whole_app: Any, route: Route) -> None:
    r = call(fresh_client(whole_app), route, headers={"Host": "rebound.evil.example"})
    assert r.status_code == 400, f"{route}: {r.status_code}"
    assert route.method == "HEAD" or r.json()["error"]["code"] == "host_not_allowed"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("route", BODIES, ids=str)
def test_every_post_route_refuses_a_body_over_the_limit(whole_app: Any, route: Route, chunked: bool) -> None:
    body = b'{"question": "' + b"x" * (Limits().max_body_bytes + 1) + b'"}'
    r = call(fresh_client(whole_app), route, json=None,
             content=iter([body[:1000], body[1000:]]) if chunked else body,
             headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large", f"{route}: {r.status_code}"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_upload_over_its_limit_is_413_however_it_is_sent(whole_app: Any, tmp_path: Path, chunked: bool) -> None:
    """Past PARK_MAX_UPLOAD_MB plus the multipart framing the edge allows, the body is refused before the route."""
    boundary = "edgeboundary"
    data = b"x" * int((UPLOAD_MB * 1024 + 80) * 1024)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n"
            "Content-Type: text/plain\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    r = fresh_client(whole_app).post("/api/v1/admin/documents", content=iter([body]) if chunked else body,
                                     headers={**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"


@pytest.mark.parametrize("route", LOCKED_DOWN, ids=str)
def test_json_routes_are_never_framed_sniffed_or_cached(whole_app: Any, route: Route) -> None:
    r = call(fresh_client(whole_app), route)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert r.headers["x-frame-options"] == "DENY"


class _FailingAssistant(FakeAssistant):
    def answer(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a fault no handler expects")


@pytest.mark.parametrize("refusal", ["host", "origin", "rate", "body", "crash"])
def test_refusals_and_failures_carry_the_security_headers_too(whole_app: Any, tmp_path: Path, refusal: str) -> None:
    """Every answer made before the app (400 Host, 403, 429, 413) or past its error handlers (500) is headed
    like any other."""
    from assistant.web.api import create_app

    client = fresh_client(whole_app)
    ask = LIMITED[0]
    if refusal == "host":
        r = call(client, ask, headers={"Host": "rebound.evil.example"})
    elif refusal == "origin":
        r = call(client, ask, headers={"Origin": EVIL})
    elif refusal == "rate":
        call(client, ask)
        r = call(client, ask)
    elif refusal == "body":
        r = call(client, ask, json=None, content=b"x" * (Limits().max_body_bytes + 1))
    else:
        failing = create_app(_FailingAssistant(), make_tiny_settings(tmp_path), None)
        r = call(fresh_client(failing), ask)
        assert r.json()["error"]["code"] == "internal_error" and "fault" not in r.text
    assert r.status_code == {"host": 400, "origin": 403, "rate": 429, "body": 413, "crash": 500}[refusal]
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_a_foreign_hosts_refusal_of_the_web_chat_is_headed_as_a_page(whole_app: Any) -> None:
    r = fresh_client(whole_app).get("/", headers={"Host": "rebound.evil.example"})
    assert r.status_code == 400 and r.headers["x-frame-options"] == "SAMEORIGIN"
    assert r.headers["content-security-policy"] == f"frame-ancestors 'self' {PARK}"


def test_pages_and_the_widget_carry_their_own_headers(whole_app: Any) -> None:
    chat = fresh_client(whole_app).get("/")
    assert chat.headers["content-security-policy"] == f"frame-ancestors 'self' {PARK}"
    assert chat.headers["x-frame-options"] == "SAMEORIGIN" and chat.headers["x-content-type-options"] == "nosniff"
    assert chat.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    widget = fresh_client(whole_app).get("/widget.js")
    assert widget.headers["cross-origin-resource-policy"] == "cross-origin"
    assert widget.headers["x-content-type-options"] == "nosniff"
    docs = fresh_client(whole_app).get("/docs")
    assert docs.headers["x-frame-options"] == "DENY"
    admin = fresh_client(whole_app).get("/admin")
    assert admin.status_code == 200 and admin.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in admin.headers["content-security-policy"]
    assert "default-src 'self'" in admin.headers["content-security-policy"]
    assert admin.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("route", [LIMITED[1], LIMITED[4]], ids=str)
def test_streams_are_neither_cached_nor_buffered_by_a_proxy(whole_app: Any, route: Route) -> None:
    r = call(fresh_client(whole_app), route)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["cache-control"] == "no-store" and r.headers["x-accel-buffering"] == "no"


# --- refused before the body is read; clients behind proxies; hosts --------------------------------------------


def _asgi_post(app: Any, path: str, content_length: str) -> tuple[int, bytes, int]:
    """POST to the raw ASGI app with a declared Content-Length and a body that is never there: (status, body,
    times the app asked for the body)."""
    import asyncio

    asked, sent = [0], []

    async def receive() -> dict[str, Any]:
        asked[0] += 1
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "client": (next(_addresses), 5000), "server": ("127.0.0.1", 80),
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                         (b"content-length", content_length.encode())]}
    asyncio.run(app(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body, asked[0]


@pytest.mark.parametrize("route", [*BODIES, LIMITED[7]], ids=str)
def test_a_declared_length_over_the_limit_is_refused_before_reading(whole_app: Any, route: Route) -> None:
    status, body, asked = _asgi_post(whole_app, route.path.split("#")[0], str(10 ** 9))
    assert status == 413 and asked == 0, f"{route}: {status}, body read {asked} times"
    assert b"too_large" in body


def test_a_content_length_that_is_no_number_is_a_clear_400(whole_app: Any) -> None:
    status, body, asked = _asgi_post(whole_app, "/api/v1/ask", "lots")
    assert status == 400 and b"bad_content_length" in body and asked == 0


def test_forwarded_for_from_a_peer_that_is_no_trusted_proxy_is_not_believed(tmp_path: Path) -> None:
    from assistant.web.api import create_app

    settings = make_tiny_settings(tmp_path, rate_limit_per_minute=2, trusted_proxies=("10.0.0.0/8",))
    app = create_app(FakeAssistant(), settings, None)
    outsider = TestClient(app, base_url="http://127.0.0.1", client=("192.0.2.9", 5000))
    codes = [outsider.post("/api/v1/ask", json=QUESTION, headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
             for i in range(3)]
    assert codes == [200, 200, 429]  # the header is the client's own: one client
    proxy = TestClient(app, base_url="http://127.0.0.1", client=("10.1.2.3", 5000))
    behind = [proxy.post("/api/v1/ask", json=QUESTION, headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
              for i in range(3)]
    assert behind == [200, 200, 200]  # three clients behind the trusted proxy


def test_behind_a_trusted_proxy_what_the_client_wrote_into_forwarded_for_is_not_believed(tmp_path: Path) -> None:
    """A proxy appends the address it saw to the X-Forwarded-For the client sent: the client chooses only the entries
    to the left of it, so rotating them must not make it a new client for the rate limit."""
    from assistant.web.api import create_app

    settings = make_tiny_settings(tmp_path, rate_limit_per_minute=2, trusted_proxies=("10.0.0.0/8",))
    proxy = TestClient(create_app(FakeAssistant(), settings, None), base_url="http://127.0.0.1",
                       client=("10.1.2.3", 5000))
    codes = [proxy.post("/api/v1/ask", json=QUESTION, headers={
        "X-Forwarded-For": f"192.0.2.{i}, 203.0.113.7, 10.0.0.9"}).status_code for i in range(3)]
    assert codes == [200, 200, 429]  # one client, 203.0.113.7, whatever it wrote before its address


def test_retry_after_never_tells_a_client_to_retry_at_once() -> None:
    """A window that frees up in under a second is 1 s: ``Retry-After: 0`` would invite a retry that is refused."""
    from starlette.responses import PlainTextResponse

    from assistant.web.limits import SlidingWindowLimiter
    from assistant.web.middleware import EdgeMiddleware

    now = [0.0]
    app = EdgeMiddleware(PlainTextResponse("ok"), allowed_origins=(), allowed_hosts=("127.0.0.1",), trusted_proxies=(),
                         limits=Limits(rate_per_minute=1), limiter=SlidingWindowLimiter(1, clock=lambda: now[0]))
    client = TestClient(app, base_url="http://127.0.0.1")
    assert client.post("/api/v1/ask").status_code == 200
    now[0] = 59.6
    r = client.post("/api/v1/ask")
    assert r.status_code == 429 and r.headers["retry-after"] == "1" and "1 s" in r.json()["error"]["message"]
    now[0] = 60.0
    assert client.post("/api/v1/ask").status_code == 200


def test_a_websocket_to_a_foreign_host_is_closed(whole_app: Any) -> None:
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as closed, \
            fresh_client(whole_app).websocket_connect("/gradio_api/queue/data", headers={"Host": "evil.example"}):
        pass
    assert closed.value.code == 1008


def test_a_star_in_allowed_hosts_answers_any_host(tmp_path: Path) -> None:
    from assistant.web.api import create_app

    app = create_app(FakeAssistant(), make_tiny_settings(tmp_path, allowed_hosts=("*",)), None)
    assert TestClient(app, base_url="http://any.name.example").get("/healthz").status_code == 200


def test_cors_lets_allowed_sites_read_retry_after_and_call_the_admin_api_without_cookies(whole_app: Any) -> None:
    preflight = fresh_client(whole_app).options("/api/v1/admin/documents/x", headers={
        "Origin": PARK, "Access-Control-Request-Method": "DELETE",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == PARK
    assert "DELETE" in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight.headers  # a token, never cookies
    r = call(fresh_client(whole_app), LIMITED[0], headers={"Origin": PARK})
    assert r.headers["access-control-allow-origin"] == PARK and "access-control-allow-credentials" not in r.headers
    assert "retry-after" in r.headers["access-control-expose-headers"].lower()  # the page can say when to retry


@pytest.mark.parametrize("refusal", ["rate", "body", "chunked body"])
def test_an_allowed_site_can_read_the_edges_refusals(whole_app: Any, refusal: str) -> None:
    """A 429 or 413 is made before the CORS middleware; without its headers the browser hides it from the widget,
    which would then say "network error" instead of "too many questions, try again in n s"."""
    client, ask, big = fresh_client(whole_app), LIMITED[0], b"x" * (Limits().max_body_bytes + 1)
    origin = {"Origin": PARK}
    if refusal == "rate":
        call(client, ask, headers=origin)
        r = call(client, ask, headers=origin)
    else:
        r = call(client, ask, json=None, content=iter([big]) if refusal == "chunked body" else big, headers=origin)
    assert r.status_code == (429 if refusal == "rate" else 413)
    assert r.headers["access-control-allow-origin"] == PARK and "origin" in r.headers["vary"].lower()
    assert "retry-after" in r.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-credentials" not in r.headers
    anonymous = fresh_client(whole_app)
    call(anonymous, ask)
    assert "access-control-allow-origin" not in call(anonymous, ask).headers  # no Origin: nothing to allow


def test_the_web_chat_behind_a_tls_proxy_is_its_own_origin(tmp_path: Path) -> None:
    """Behind a trusted proxy that ends TLS, the page's https origin is the server's own: not refused as foreign."""
    from assistant.web.api import create_app

    settings = make_tiny_settings(tmp_path, allowed_hosts=("chat.park.example",), trusted_proxies=("10.0.0.0/8",))
    proxy = TestClient(create_app(FakeAssistant(), settings, None), base_url="http://chat.park.example",
                       client=("10.0.0.5", 5000))
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    r = proxy.post("/api/v1/ask", json=QUESTION, headers={"Origin": "https://chat.park.example", **forwarded})
    assert r.status_code == 200, r.text
    r = proxy.post("/api/v1/ask", json=QUESTION, headers={"Origin": "https://chat.park.example"})
    assert r.status_code == 403  # without the proxy's word the request came over http: another origin


@pytest.mark.parametrize(("peer", "forwarded", "status"), [
    ("10.0.0.5", {"X-Forwarded-Proto": "https"}, 200),  # a proxy that forwards the scheme only
    ("10.0.0.5", {"X-Forwarded-For": "10.9.8.7", "X-Forwarded-Proto": "https"}, 200),  # a client inside the network
    ("192.0.2.9", {"X-Forwarded-Proto": "https"}, 403),  # no proxy of ours: its word is not believed
], ids=["proto only", "trusted client", "untrusted peer"])
def test_forwarded_proto_is_believed_from_a_trusted_proxy_with_or_without_forwarded_for(
        tmp_path: Path, peer: str, forwarded: dict[str, str], status: int) -> None:
    """PARK_TRUSTED_PROXIES governs X-Forwarded-Proto as it does X-Forwarded-For: each on its own."""
    from assistant.web.api import create_app

    settings = make_tiny_settings(tmp_path, allowed_hosts=("chat.park.example",), trusted_proxies=("10.0.0.0/8",))
    client = TestClient(create_app(FakeAssistant(), settings, None), base_url="http://chat.park.example",
                        client=(peer, 5000))
    r = client.post("/api/v1/ask", json=QUESTION, headers={"Origin": "https://chat.park.example", **forwarded})
    assert r.status_code == status, r.text


@pytest.mark.parametrize(("hosts", "host"), [(("::1",), "[::1]:7860"),
                                             (("chat.park.example",), "CHAT.Park.Example:80")])
def test_host_names_are_matched_without_port_brackets_or_case(tmp_path: Path, hosts: tuple[str, ...],
                                                               host: str) -> None:
    from assistant.web.api import create_app

    app = create_app(FakeAssistant(), make_tiny_settings(tmp_path, allowed_hosts=hosts), None)
    assert TestClient(app).get("/healthz", headers={"Host": host}).status_code == 200


def test_without_allowed_hosts_the_bound_host_and_loopback_names_are_answered(tmp_path: Path) -> None:
    """PARK_ALLOWED_HOSTS unset: the address the server is bound to (PARK_HOST) is served, with localhost and
    127.0.0.1; any other name is refused."""
    from assistant.web.api import create_app

    client = TestClient(create_app(FakeAssistant(), make_tiny_settings(tmp_path, host="10.1.2.3"), None))
    for host in ("10.1.2.3:7860", "localhost:7860", "127.0.0.1"):
        assert client.get("/healthz", headers={"Host": host}).status_code == 200, host
    assert client.get("/healthz", headers={"Host": "10.1.2.4:7860"}).status_code == 400


def test_a_cors_preflight_costs_no_request_of_the_limit(whole_app: Any) -> None:
    """An allowed site's call to the admin API is preceded by the browser's preflight: only the call counts."""
    client = fresh_client(whole_app)
    preflight = {"Origin": PARK, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"}
    assert client.options("/api/v1/admin/gaps", headers=preflight).status_code == 200
    assert client.get("/api/v1/admin/gaps", headers={**AUTH, "Origin": PARK}).status_code == 200
