"""The OpenAI-compatible endpoint: ``POST /v1/chat/completions`` and ``GET /v1/models``.

Any OpenAI client talks to the assistant as to one model, ``park-assistant``: the last user message is the
question, earlier user/assistant messages are the history. Content keeps the ``[n]`` markers; the citations
travel in an extra top-level ``citations`` field (in the final chunk when streaming). Errors keep OpenAI's
``{"error": {message, type, code}}`` shape, so the client raises them with our message.

:func:`assistant.web.api.create_app` mounts these routes with :func:`add_openai_routes`; they share the limits,
errors, schemas and stream helpers of the API routes.

>>> client = openai.OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")   # doctest: +SKIP
>>> reply = client.chat.completions.create(model="park-assistant",                   # doctest: +SKIP
...                                        messages=[{"role": "user", "content": "合作区面积多大？"}])
>>> reply.model_extra["citations"][0]["n"]                                            # doctest: +SKIP
1
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from assistant.answering.eligibility.render import render_checklist
from assistant.data import Answer, Message
from assistant.lang import Lang
from assistant.web.errors import ApiError
from assistant.web.routes import Deps
from assistant.web.schemas import ERROR_RESPONSES, CitationOut, UsageOut
from assistant.web.streaming import SSE_HEADERS, start_stream, stream_items, unsent_rest

MODEL_ID = "park-assistant"


# Only the fields we read or write; clients' extra fields are accepted and ignored.


class OAMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class OARequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = MODEL_ID
    messages: list[OAMessage] = Field(min_length=1)
    stream: StrictBool = False  # "yes" is a mistake to report, not a truthy string
    stream_options: dict[str, Any] | None = None
    lang: Lang | None = Field(None, description="Extension: answer language.")


class OAChoice(BaseModel):
    index: int = 0
    message: dict[str, Any]
    finish_reason: str = "stop"


class OACompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[OAChoice]
    usage: UsageOut
    citations: list[CitationOut] = Field(description="Extension: the passages behind the [n] markers.")
    answerable: bool = True
    notice: str | None = None
    confidence: float | None = Field(None, description="Extension: probability that the sources answer it.")
    suggestions: list[str] = Field(default_factory=list, description="Extension: questions the sources answer.")


def _openai_question(deps: Deps, messages: Sequence[OAMessage]) -> tuple[str, list[Message]]:
    """The last user message is the question; earlier user/assistant messages are the history.

    System/developer/tool messages are dropped: the assistant's own instructions are not replaceable by callers.
    """
    if messages[-1].role != "user":
        raise ApiError(422, "last_message_not_user", "The last message must have role 'user' (the question).")
    history = [Message(role="user" if m.role == "user" else "assistant", content=m.text())
               for m in messages[:-1] if m.role in ("user", "assistant")]
    return deps.checked(messages[-1].text(), history)


def add_openai_routes(app: FastAPI, deps: Deps) -> None:
    """Register ``GET /v1/models`` and ``POST /v1/chat/completions`` on ``app``, answering with ``deps``."""

    @app.get("/v1/models", tags=["openai"])
    def models() -> dict[str, Any]:
        """OpenAI-compatible model list: the assistant is one model."""
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "park"}]}

    @app.post("/v1/chat/completions", response_model=OACompletion, tags=["openai"], responses=ERROR_RESPONSES)
    async def chat_completions(body: OARequest) -> OACompletion | StreamingResponse:
        """OpenAI-compatible chat. Content keeps the [n] markers; ``citations`` is an extra top-level field
        (in the final chunk when streaming)."""
        question, history = _openai_question(deps, body.messages)
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if not body.stream:
            a = await run_in_threadpool(deps.assistant.answer, question, history, lang=body.lang)
            await run_in_threadpool(deps.log, a, "openai")
            return OACompletion(id=cid, created=created, model=MODEL_ID, usage=UsageOut.of(a),
                                choices=[OAChoice(message={"role": "assistant", "content": _content(a)})],
                                citations=[CitationOut.of(c) for c in a.citations], answerable=a.answerable,
                                notice=a.notice, confidence=a.confidence, suggestions=list(a.suggestions))
        items = await start_stream(deps.assistant.stream(question, history, lang=body.lang))
        include_usage = bool((body.stream_options or {}).get("include_usage"))

        def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
            choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
            data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
                    "choices": choices, **extra}
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

        def on_answer(a: Answer, sent: str) -> Iterator[str]:
            deps.log(a, "openai-stream")
            if rest := unsent_rest(a, sent):
                yield chunk({"content": rest})
            if a.verdict is not None and (checklist := render_checklist(a)) not in sent + rest:
                yield chunk({"content": "\n\n" + checklist})
            citations = [CitationOut.of(c).model_dump() for c in a.citations]
            yield chunk({}, "stop", citations=citations, answerable=a.answerable, notice=a.notice,
                        confidence=a.confidence, suggestions=list(a.suggestions))
            if include_usage:  # OpenAI's convention: one more chunk, with no choices, carrying the usage
                yield chunk(None, usage=UsageOut.of(a).model_dump())

        def on_error(code: str, message: str) -> str:
            return f"data: {json.dumps({'error': {'message': message, 'type': 'server_error', 'code': code}})}\n\n"

        def lines() -> Iterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            yield from stream_items(items, on_answer, lambda text: chunk({"content": text}), on_error)
            yield "data: [DONE]\n\n"

        return StreamingResponse(iterate_in_threadpool(lines()), media_type="text/event-stream", headers=SSE_HEADERS)


def _content(a: Answer) -> str:
    """The answer's text, with its eligibility checklist as a Markdown task list below (when it has one)."""
    checklist = render_checklist(a)
    return a.text if not checklist or a.text.endswith(checklist) else f"{a.text}\n\n{checklist}"
