"""The HTTP API: JSON and server-sent events for the widget, an OpenAI-compatible endpoint, and the widget.

The OpenAI-compatible routes live in :mod:`assistant.web.openai_compat`; this module builds the app and holds what
both share: the web models, the limits, the error handling and the streaming helpers.

Every answer keeps its ``[n]`` markers in the text and carries the matching citations beside it, in every
channel (JSON, SSE, OpenAI-compatible). The web layer has its own pydantic models; internal dataclasses are
never serialised directly.

>>> from assistant.config import Settings
>>> from assistant.testing import FakeAssistant
>>> app = create_app(FakeAssistant(), Settings(allowed_origins=("https://park.example",)), feedback=None)
>>> sorted(r.path for r in app.routes if r.path.startswith("/api/v1/ask"))
['/api/v1/ask', '/api/v1/ask/stream']
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from assistant.config import Settings
from assistant.data import Answer, Chunk, Citation, Delta, Message
from assistant.errors import (
    AssistantError,
    ConfigError,
    EmbeddingError,
    IndexNotBuiltError,
    InputError,
    LLMError,
    StoreError,
)

log = logging.getLogger(__name__)

WIDGET_JS = Path(__file__).parent / "static" / "widget.js"
MAX_MESSAGE_CHARS = 4000
GUARDED_PREFIXES = ("/api/", "/v1/")
MAX_BODY_BYTES = 256 * 1024  # far above any valid request (question + history + feedback)
Lang = Literal["zh-Hans", "zh-Hant", "en"]


class AssistantLike(Protocol):
    """The surface of :class:`assistant.answering.assistant.Assistant` the API uses."""

    def answer(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None) -> Answer: ...

    def stream(self, question: str, history: Sequence[Message] = (), *,
               lang: str | None = None) -> Iterator[Delta | Answer]: ...

    def chunk(self, chunk_id: str) -> Chunk | None: ...

    def info(self) -> dict[str, Any]: ...


class FeedbackSink(Protocol):
    """What the feedback endpoint needs of :class:`assistant.web.feedback.FeedbackStore`."""

    def record(self, question: str, answer_text: str, citations: Sequence[dict[str, Any]], rating: int,
               reason: str | None = None, lang: str | None = None, mode: str | None = None,
               meta: dict[str, Any] | None = None) -> int: ...


# --- web models ------------------------------------------------------------------------------------


class ChatTurn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class AskRequest(BaseModel):
    question: str = Field(min_length=1, description="The question, in Simplified/Traditional Chinese or English.")
    history: list[ChatTurn] = Field(default_factory=list, description="Earlier turns, oldest first.")
    lang: Lang | None = Field(None, description="Answer language; detected from the question when absent.")


class CitationOut(BaseModel):
    n: int = Field(description="The marker [n] in the answer text.")
    id: str = Field(description="Chunk id; GET /api/v1/sources/{id} returns the whole passage.")
    source: str
    title: str
    doc_no: str | None = None
    date: str | None = None
    issuer: str | None = None
    url: str | None = None
    section: str
    quote: str = Field(description="The exact source text of the cited sentence(s).")
    start: int = Field(description="Offset of the quote in the document body.")
    end: int
    verified: bool = Field(description="True when the quote was found verbatim in the source.")

    @classmethod
    def of(cls, c: Citation) -> CitationOut:
        return cls(n=c.n, id=c.chunk_id, source=c.source, title=c.title, doc_no=c.doc_no, date=c.date,
                   issuer=c.issuer, url=c.url, section=c.section, quote=c.quote, start=c.start, end=c.end,
                   verified=c.verified)


class UsageOut(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class AskResponse(BaseModel):
    answer: str = Field(description="Answer text with [n] citation markers.")
    answerable: bool
    mode: str
    model: str | None
    lang: str
    citations: list[CitationOut]
    notice: str | None
    timings_ms: dict[str, float]
    usage: UsageOut


class DoneEvent(BaseModel):
    """Last SSE event; ``answer`` is the final text (it may differ from the concatenated deltas)."""

    answer: str
    answerable: bool
    mode: str
    model: str | None
    lang: str
    notice: str | None
    timings_ms: dict[str, float]
    usage: UsageOut


class FeedbackRequest(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    answer: str = Field(max_length=20_000)
    citations: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    rating: Literal["up", "down"]
    reason: str | None = Field(None, max_length=1000)
    lang: Lang | None = None
    mode: str | None = Field(None, max_length=20, description="The answer's mode, from the `done` event.")


class FeedbackResponse(BaseModel):
    id: int


class SourceResponse(BaseModel):
    id: str
    source: str
    title: str
    section: str
    section_path: list[str]
    text: str
    start: int
    end: int
    meta: dict[str, Any]


class ErrorBody(BaseModel):
    message: str
    type: str
    code: str


class ErrorResponse(BaseModel):
    error: ErrorBody


# --- errors ----------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answered as ``{"error": {message, type, code}}`` (OpenAI's shape, so its client reads it)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


_ERROR_STATUS: tuple[tuple[type[AssistantError], int, str], ...] = (
    (InputError, 400, "invalid_input"),
    (IndexNotBuiltError, 503, "index_not_built"),
    (LLMError, 502, "llm_unavailable"),
    (EmbeddingError, 503, "embedding_failed"),
    (StoreError, 503, "store_unavailable"),
    (ConfigError, 500, "misconfigured"),
)


def _classify(exc: AssistantError) -> tuple[int, str]:
    for cls, status, code in _ERROR_STATUS:
        if isinstance(exc, cls):
            return status, code
    return 500, "assistant_error"


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    kind = "invalid_request_error" if 400 <= status < 500 else "server_error"
    body = ErrorResponse(error=ErrorBody(message=message, type=kind, code=code))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    async def assistant_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, AssistantError)
        status, code = _classify(exc)
        log.warning("assistant error (%s): %s", code, exc)
        return error_response(status, code, str(exc))

    async def validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        parts = [f"{'.'.join(str(x) for x in e['loc'] if x != 'body') or 'body'}: {e['msg']}" for e in exc.errors()]
        return error_response(422, "invalid_request", "Invalid request — " + "; ".join(parts))

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return error_response(exc.status_code, "http_error", str(exc.detail), dict(exc.headers or {}))

    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unexpected error", exc_info=exc)
        return error_response(500, "internal_error", "Internal error — the assistant failed; see the server log.")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(AssistantError, assistant_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


# --- rate limit, origin check, headers ---------------------------------------------------------------


class SlidingWindowLimiter:
    """At most ``limit`` hits per ``window_s`` seconds per key; ``hit`` returns seconds to wait, or None."""

    def __init__(self, limit: int, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        if self.limit <= 0:
            return None
        now = self.clock()
        with self._lock:
            if len(self._hits) > 10_000:  # forget idle clients so memory stays bounded
                self._hits = {k: q for k, q in self._hits.items() if q and q[-1] > now - self.window_s}
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= now - self.window_s:
                q.popleft()
            if len(q) >= self.limit:
                return max(q[0] + self.window_s - now, 0.001)
            q.append(now)
            return None


def _own_origin(scope: Scope, headers: Headers) -> str:
    return f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"


class EdgeMiddleware:
    """Refuses /api/* and /v1/* requests from a foreign Origin (403 JSON) and adds security headers.

    A request without Origin (curl, server-to-server, the openai client) or from the server's own origin is
    let through; browsers always send Origin on cross-origin fetches, so this is what stops other sites.
    """

    def __init__(self, app: ASGIApp, allowed_origins: Sequence[str]) -> None:
        self.app = app
        self.allowed = frozenset(o.rstrip("/") for o in allowed_origins)
        self.frame_ancestors = " ".join(["'self'", *sorted(self.allowed)])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        guarded = path.startswith(GUARDED_PREFIXES)
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if guarded and origin is not None and origin.rstrip("/") not in self.allowed \
                and origin != _own_origin(scope, headers):
            response = error_response(403, "origin_not_allowed", f"Requests from {origin} are not allowed: "
                                      "the site must be listed in PARK_ALLOWED_ORIGINS to embed the assistant.")
            await self._with_headers(response, path, guarded)(scope, receive, send)
            return
        if guarded and int(headers.get("content-length") or 0) > MAX_BODY_BYTES:  # refuse before reading it
            response = error_response(413, "body_too_large", f"The request body is larger than {MAX_BODY_BYTES} "
                                      "bytes — send a shorter question and fewer history turns.")
            await self._with_headers(response, path, guarded)(scope, receive, send)
            return
        await self._with_headers(self.app, path, guarded)(scope, receive, send)

    def _with_headers(self, app: ASGIApp, path: str, guarded: bool) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            async def send_with_headers(message: AsgiMessage) -> None:
                if message["type"] == "http.response.start":
                    h = MutableHeaders(scope=message)
                    h.setdefault("X-Content-Type-Options", "nosniff")
                    h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                    if guarded or path in ("/healthz", "/readyz"):
                        h.setdefault("Cache-Control", "no-store")
                        h.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
                    elif path == "/widget.js":
                        # loaded by <script> on other sites, and may be fetched by pages with COEP
                        h.setdefault("Cross-Origin-Resource-Policy", "cross-origin")
                    elif not path.startswith(("/docs", "/redoc", "/openapi.json")):
                        # the web chat may be iframed by the allowed sites only
                        h.setdefault("Content-Security-Policy", f"frame-ancestors {self.frame_ancestors}")
                await send(message)

            await app(scope, receive, send_with_headers)

        return wrapped


# --- the app ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deps:
    """What the routes are handed: built once by :func:`create_app`."""

    assistant: AssistantLike
    settings: Settings
    feedback: FeedbackSink | None
    limiter: SlidingWindowLimiter


def create_app(assistant: AssistantLike, settings: Settings, feedback: FeedbackSink | None) -> FastAPI:
    """The API around a built assistant. Nothing is created here but the app: dependencies come in.

    >>> from assistant.testing import FakeAssistant
    >>> from fastapi.testclient import TestClient
    >>> client = TestClient(create_app(FakeAssistant(), Settings(), feedback=None))
    >>> client.post("/api/v1/ask", json={"question": "合作区面积多大？"}).json()["citations"][0]["n"]
    1
    """
    # imported here, not at the top: openai_compat builds on this module's models and helpers
    from assistant.web.openai_compat import add_openai_routes

    app = FastAPI(title="Hetao park policy assistant API", version="1", docs_url="/docs", redoc_url=None,
                  description="Cited answers about the Hetao Shenzhen–Hong Kong S&T Innovation Cooperation Zone.")
    deps = Deps(assistant, settings, feedback, SlidingWindowLimiter(settings.rate_limit_per_minute))
    _install_error_handlers(app)
    _add_service_routes(app, deps)
    _add_ask_routes(app, deps)
    add_openai_routes(app, deps)
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.allowed_origins), allow_credentials=False,
                       allow_methods=["GET", "POST", "OPTIONS"], allow_headers=["Content-Type", "Authorization"],
                       expose_headers=["Retry-After"], max_age=600)
    app.add_middleware(EdgeMiddleware, allowed_origins=settings.allowed_origins)  # outermost: runs first
    return app


def rate_limit(deps: Deps) -> Callable[[Request], None]:
    """A route dependency that answers 429 (with Retry-After) once a client is over the per-minute limit."""

    def check(request: Request) -> None:
        client = request.client.host if request.client else "unknown"
        wait = deps.limiter.hit(client)
        if wait is not None:
            seconds = math.ceil(wait)
            raise ApiError(429, "rate_limited", f"Too many requests: at most {deps.limiter.limit} per minute "
                           f"from one client. Try again in {seconds} s.", {"Retry-After": str(seconds)})

    return check


def checked_question(deps: Deps, question: str,
                     history: Sequence[ChatTurn | Message]) -> tuple[str, list[Message]]:
    """Apply the size limits; 422 for an empty question, 413 for anything too large."""
    question = question.strip()
    if not question:
        raise ApiError(422, "empty_question", "The question is empty — type a question about the Hetao zone.")
    limit = deps.settings.max_question_chars
    if len(question) > limit:
        raise ApiError(413, "question_too_long", f"The question has {len(question)} characters; at most {limit} "
                       "are accepted — shorten it.")
    max_messages = 2 * deps.settings.max_history_turns  # a turn is a question and its answer
    if len(history) > max_messages:
        raise ApiError(413, "history_too_long", f"The history has {len(history)} messages; at most {max_messages} "
                       f"({deps.settings.max_history_turns} turns) are accepted — send only the most recent turns.")
    for i, turn in enumerate(history):
        if len(turn.content) > MAX_MESSAGE_CHARS:
            raise ApiError(413, "history_message_too_long", f"History message {i} has {len(turn.content)} "
                           f"characters; at most {MAX_MESSAGE_CHARS} are accepted per message.")
    return question, [Message(role=t.role, content=t.content) for t in history]


def _add_service_routes(app: FastAPI, deps: Deps) -> None:
    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"])
    def readyz() -> JSONResponse:
        """The assistant can answer (index loaded); 503 otherwise."""
        try:
            info = deps.assistant.info()
        except AssistantError as exc:
            return JSONResponse({"ready": False, "reason": str(exc)}, status_code=503)
        body = {k: info.get(k) for k in ("ready", "mode", "model", "chunks")}
        return JSONResponse(body, status_code=200 if info.get("ready") else 503)

    @app.get("/widget.js", tags=["widget"], response_class=Response)
    def widget_js() -> Response:
        """The embeddable chat widget: ``<script src="http://HOST/widget.js" data-lang="zh-Hans"></script>``."""
        return Response(WIDGET_JS.read_bytes(), media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300"})

    @app.get("/api/v1/sources/{chunk_id}", response_model=SourceResponse, tags=["api"],
             responses={404: {"model": ErrorResponse}})
    def source(chunk_id: str) -> SourceResponse:
        """The whole cited passage with its offsets and the document's metadata."""
        chunk = deps.assistant.chunk(chunk_id)
        if chunk is None:
            raise ApiError(404, "unknown_source", f"No passage with id {chunk_id!r} — ids come from an answer's "
                           "citations and change when the index is rebuilt.")
        meta = json.loads(json.dumps(chunk.meta, default=str, ensure_ascii=False))  # dates from YAML → str
        return SourceResponse(id=chunk.id, source=chunk.source, title=chunk.title, section=chunk.section_path,
                              section_path=list(chunk.section), text=chunk.text, start=chunk.start, end=chunk.end,
                              meta=meta)

    @app.post("/api/v1/feedback", response_model=FeedbackResponse, status_code=201, tags=["api"],
              dependencies=[Depends(rate_limit(deps))], responses={503: {"model": ErrorResponse}})
    def feedback(body: FeedbackRequest, request: Request) -> FeedbackResponse:
        """Record a thumbs up/down on an answer (no IP address or other personal data is stored)."""
        if deps.feedback is None:
            raise ApiError(503, "feedback_disabled", "Feedback is not enabled on this server.")
        meta = {"channel": "api", "origin": request.headers.get("origin")}
        row = deps.feedback.record(body.question, body.answer, body.citations, 1 if body.rating == "up" else -1,
                                   reason=body.reason, lang=body.lang, mode=body.mode, meta=meta)
        return FeedbackResponse(id=row)


def _ask_response(a: Answer) -> AskResponse:
    return AskResponse(answer=a.text, answerable=a.answerable, mode=a.mode, model=a.model, lang=a.lang,
                       citations=[CitationOut.of(c) for c in a.citations], notice=a.notice,
                       timings_ms=dict(a.timings_ms), usage=usage_out(a))


def usage_out(a: Answer) -> UsageOut:
    """The answer's token usage as the web model."""
    u = a.usage
    return UsageOut(prompt_tokens=u.prompt_tokens, completion_tokens=u.completion_tokens, total_tokens=u.total_tokens)


def _sse(event: str, data: BaseModel | dict[str, Any]) -> str:
    payload = data.model_dump() if isinstance(data, BaseModel) else data
    return f"event: {event}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"


async def start_stream(stream: Iterator[Delta | Answer]) -> Iterator[Delta | Answer]:
    """Run the stream to its first item before the response starts, so early errors get a real status code."""
    first = await run_in_threadpool(next, stream, None)
    if first is None:
        raise ApiError(500, "empty_stream", "The assistant produced no answer — see the server log.")
    return itertools.chain([first], stream)


def stream_items(items: Iterator[Delta | Answer], on_answer: Callable[[Answer, str], Iterator[str]],
                  on_delta: Callable[[str], str], on_error: Callable[[str, str], str]) -> Iterator[str]:
    """Shared by both streaming endpoints: deltas out, then the final answer; errors become an event."""
    sent: list[str] = []
    try:
        for item in items:
            if isinstance(item, Delta):
                sent.append(item.text)
                yield on_delta(item.text)
            else:
                yield from on_answer(item, "".join(sent))
                return
        yield on_error("empty_stream", "The answer stream ended early — try again.")
    except AssistantError as exc:
        code = _classify(exc)[1]
        log.warning("assistant error while streaming (%s): %s", code, exc)
        yield on_error(code, str(exc))
    except Exception:
        log.exception("unexpected error while streaming")
        yield on_error("internal_error", "Internal error — the assistant failed; see the server log.")


def unsent_rest(answer: Answer, sent: str) -> str:
    """The part of the final text not yet streamed ('' if the final text is not a continuation)."""
    return answer.text[len(sent):] if answer.text.startswith(sent) else ""


SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def _add_ask_routes(app: FastAPI, deps: Deps) -> None:
    limited = [Depends(rate_limit(deps))]
    errors: dict[int | str, dict[str, Any]] = {s: {"model": ErrorResponse} for s in (403, 413, 422, 429, 500, 503)}

    @app.post("/api/v1/ask", response_model=AskResponse, dependencies=limited, tags=["api"], responses=errors)
    def ask(body: AskRequest) -> AskResponse:
        """Answer a question; the text carries [n] markers that index ``citations``."""
        question, history = checked_question(deps, body.question, body.history)
        return _ask_response(deps.assistant.answer(question, history, lang=body.lang))

    @app.post("/api/v1/ask/stream", dependencies=limited, tags=["api"], response_class=StreamingResponse,
              responses={**errors, 200: {"content": {"text/event-stream": {}}, "description":
                         "Events: `delta` {text}…, then `citations` {citations}, then `done` {answer, answerable, "
                         "mode, model, lang, notice, timings_ms, usage}; or `error` {message, code}."}})
    async def ask_stream(body: AskRequest) -> StreamingResponse:
        """Answer as server-sent events (see the 200 response for the event types)."""
        question, history = checked_question(deps, body.question, body.history)
        items = await start_stream(deps.assistant.stream(question, history, lang=body.lang))

        def on_answer(a: Answer, sent: str) -> Iterator[str]:
            if rest := unsent_rest(a, sent):
                yield _sse("delta", {"text": rest})
            yield _sse("citations", {"citations": [CitationOut.of(c).model_dump() for c in a.citations]})
            yield _sse("done", DoneEvent(answer=a.text, answerable=a.answerable, mode=a.mode, model=a.model,
                                         lang=a.lang, notice=a.notice, timings_ms=dict(a.timings_ms),
                                         usage=usage_out(a)))

        lines = stream_items(items, on_answer, lambda text: _sse("delta", {"text": text}),
                              lambda code, message: _sse("error", {"message": message, "code": code}))
        # the assistant's generator is synchronous: iterate it in a worker thread, not on the event loop
        return StreamingResponse(iterate_in_threadpool(lines), media_type="text/event-stream", headers=SSE_HEADERS)
