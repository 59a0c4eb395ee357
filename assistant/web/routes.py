"""The API's routes: service (health, readiness, widget), ask (JSON and SSE), sources, feedback.

Routes are thin: they apply :class:`assistant.limits.Limits` (its errors become 413/422 in
:mod:`assistant.web.errors`), call the assistant and translate its answer into :mod:`assistant.web.schemas`.
Host, Origin, rate and body checks happen before any route, in :mod:`assistant.web.middleware`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool

from assistant.config import Settings
from assistant.data import Answer, AssistantLike, Filters, Message, Sources
from assistant.limits import Turn
from assistant.web.errors import ApiError, not_ready_response
from assistant.web.questions import QuestionSink, record_answer, serving_build
from assistant.web.schemas import (
    ERROR_RESPONSES,
    AskRequest,
    AskResponse,
    ChecklistOut,
    CitationOut,
    DoneEvent,
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    SourceResponse,
)
from assistant.web.streaming import SSE_HEADERS, sse, start_stream, stream_items, unsent_rest
from assistant.web.widget import widget_response


class FeedbackSink(Protocol):
    """What the feedback endpoint needs of :class:`assistant.web.feedback.FeedbackStore`."""

    def record(self, question: str, answer_text: str, citations: Sequence[dict[str, Any]], rating: int,
               reason: str | None = None, lang: str | None = None, mode: str | None = None,
               meta: dict[str, Any] | None = None) -> int: ...


@dataclass(frozen=True)
class Deps:
    """What the routes are handed: built once by :func:`assistant.web.api.create_app`."""

    assistant: AssistantLike
    settings: Settings
    feedback: FeedbackSink | None
    questions: QuestionSink | None = None

    def build(self) -> str | None:
        """The id of the index build now serving (stored with questions and feedback)."""
        return serving_build(self.assistant)

    def log(self, answer: Answer, channel: str) -> None:
        """Keep the question and how it was answered, for the editors' content gaps."""
        record_answer(self.questions, self.assistant, answer, channel)

    def checked(self, question: str, history: Sequence[Turn]) -> tuple[str, list[Message]]:
        """The question and history within the limits (else LimitError → 413, InputError → 422)."""
        return self.settings.limits.check(question, history)


def add_service_routes(app: FastAPI, deps: Deps) -> None:
    """``/healthz``, ``/readyz`` and ``/widget.js``: none of them waits for model work.

    The health routes are ``async``: they run on the event loop, so they answer at once even when every worker
    thread is busy with (or stuck on) an answer.
    """

    @app.get("/healthz", tags=["service"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"])
    async def readyz() -> JSONResponse:
        """The assistant can answer (index loaded); 503 otherwise. ``build`` names the serving index build."""
        try:
            info = deps.assistant.info()
        except Exception as exc:  # any fault means not ready: a 503 the probe reads, never a 500
            return not_ready_response(exc)
        body = {k: info.get(k) for k in ("ready", "mode", "model", "chunks", "build")}
        return JSONResponse(body, status_code=200 if info.get("ready") else 503)

    @app.get("/widget.js", tags=["widget"], response_class=Response)
    def widget_js(request: Request) -> Response:
        """The embeddable chat widget: ``<script src="http://HOST/widget.js" data-lang="zh-Hans"></script>``."""
        return widget_response(request)

    app.head("/widget.js", include_in_schema=False)(widget_js)  # the same answer without the body


def add_api_routes(app: FastAPI, deps: Deps) -> None:
    """``/api/v1/ask``, ``/api/v1/ask/stream``, ``/api/v1/sources/{id}`` and ``/api/v1/feedback``."""

    @app.post("/api/v1/ask", response_model=AskResponse, tags=["api"], responses=ERROR_RESPONSES)
    def ask(body: AskRequest) -> AskResponse:
        """Answer a question; the text carries [n] markers that index ``citations``."""
        question, history = deps.checked(body.question, body.history)
        answer = deps.assistant.answer(question, history, lang=body.lang, **_filters(body))
        deps.log(answer, "api")
        return AskResponse.of(answer)

    @app.post("/api/v1/ask/stream", tags=["api"], response_class=StreamingResponse,
              responses={**ERROR_RESPONSES, 200: {"content": {"text/event-stream": {}}, "description":
                         "Events: `sources` {citations} (the retrieved passages, at once; empty when declined), "
                         "`delta` {text}…, then `citations` {citations}, for an eligibility question `checklist` "
                         "{verdict, policy, complete, items, benefit, office, note, labels}, then `done` {answer, "
                         "answerable, mode, model, lang, notice, confidence, suggestions, timings_ms, usage}; or "
                         "`error` {message, code}."}})
    async def ask_stream(body: AskRequest) -> StreamingResponse:
        """Answer as server-sent events (see the 200 response for the event types)."""
        question, history = deps.checked(body.question, body.history)
        items = await start_stream(deps.assistant.stream(question, history, lang=body.lang, **_filters(body)))

        def on_answer(a: Answer, sent: str) -> Iterator[str]:
            deps.log(a, "api-stream")
            if rest := unsent_rest(a, sent):
                yield sse("delta", {"text": rest})
            yield sse("citations", {"citations": [CitationOut.of(c).model_dump() for c in a.citations]})
            if (checklist := ChecklistOut.of(a)) is not None:
                yield sse("checklist", checklist)
            yield sse("done", DoneEvent.of(a))

        def on_sources(s: Sources) -> Iterator[str]:
            yield sse("sources", {"citations": [CitationOut.of(c).model_dump() for c in s.citations]})

        lines = stream_items(items, on_answer, lambda text: sse("delta", {"text": text}),
                             lambda code, message: sse("error", {"message": message, "code": code}), on_sources)
        return StreamingResponse(iterate_in_threadpool(lines), media_type="text/event-stream", headers=SSE_HEADERS)

    @app.get("/api/v1/sources/{chunk_id}", response_model=SourceResponse, tags=["api"],
             responses={404: {"model": ErrorResponse}, 429: {"model": ErrorResponse}})
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
              responses=ERROR_RESPONSES)
    def feedback(body: FeedbackRequest, request: Request) -> FeedbackResponse:
        """Record a thumbs up/down on an answer (no IP address or other personal data is stored)."""
        if deps.feedback is None:
            raise ApiError(503, "feedback_disabled", "Feedback is not enabled on this server.")
        meta = {"channel": "api", "origin": request.headers.get("origin"), "build": deps.build(),
                "confidence": body.confidence}
        row = deps.feedback.record(body.question, body.answer, body.citations, 1 if body.rating == "up" else -1,
                                   reason=body.reason, lang=body.lang, mode=body.mode, meta=meta)
        return FeedbackResponse(id=row)


def _filters(body: AskRequest) -> dict[str, Filters]:
    """``filters=`` for the assistant, only when the request restricts the sources (assistants that take no
    filters keep working for every unfiltered request)."""
    filters = body.filters.to_filters() if body.filters else None
    return {"filters": filters} if filters else {}


def add_not_found_routes(app: FastAPI) -> None:
    """Unknown ``/api/…`` and ``/v1/…`` paths answer JSON 404 (the web chat mounted at ``/`` would answer
    them in its own format). Register after every real route."""

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    @app.api_route("/v1/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def not_found(rest: str, request: Request) -> Response:
        raise ApiError(404, "not_found", f"No such endpoint: {request.method} {request.url.path} — see /openapi.json "
                       "for the API's routes.")
