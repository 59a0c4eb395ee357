"""Streaming helpers both streaming endpoints share (the API's SSE and the OpenAI-compatible chunks).

The assistant's generator is synchronous: it is started in a worker thread (so errors before the first item
still get a real status code) and iterated in one, never on the event loop.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from assistant.data import Answer, Delta, Sources, StreamEvent
from assistant.web.errors import ApiError, logged

SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def sse(event: str, data: BaseModel | dict[str, Any]) -> str:
    """One server-sent event."""
    payload = data.model_dump() if isinstance(data, BaseModel) else data
    return f"event: {event}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"


async def start_stream(stream: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
    """Run the stream to its first item before the response starts, so early errors get a real status code."""
    first = await run_in_threadpool(next, stream, None)
    if first is None:
        raise ApiError(500, "empty_stream", "The assistant produced no answer — see the server log.")
    return itertools.chain([first], stream)


def stream_items(items: Iterator[StreamEvent], on_answer: Callable[[Answer, str], Iterator[str]],
                 on_delta: Callable[[str], str], on_error: Callable[[str, str], str],
                 on_sources: Callable[[Sources], Iterator[str]] | None = None) -> Iterator[str]:
    """The sources (if ``on_sources``), deltas, then the final answer; an error midway becomes an error event
    (the status is already sent)."""
    sent: list[str] = []
    try:
        for item in items:
            if isinstance(item, Sources):
                if on_sources is not None:
                    yield from on_sources(item)
            elif isinstance(item, Delta):
                sent.append(item.text)
                yield on_delta(item.text)
            else:
                yield from on_answer(item, "".join(sent))
                return
        yield on_error("empty_stream", "The answer stream ended early — try again.")
    except Exception as exc:
        _, code, message = logged(exc, "streaming an answer")
        yield on_error(code, message)


def unsent_rest(answer: Answer, sent: str) -> str:
    """The part of the final text not yet streamed ('' if the final text is not a continuation)."""
    return answer.text[len(sent):] if answer.text.startswith(sent) else ""
