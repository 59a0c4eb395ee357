"""Errors as HTTP answers: ``{"error": {message, type, code}}`` (OpenAI's shape, so its client reads it).

The package's errors are translated here and nowhere else: :data:`ERROR_STATUS` maps each
:class:`~assistant.errors.AssistantError` to a status and a code. Faults of the machinery behind the assistant
(the LLM endpoint, the vector store) and an index not built are logged in full and told to users without internal
addresses or server paths (the command line, run by the operator, still prints them).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.errors import (
    AssistantError,
    ConfigError,
    EmbeddingError,
    IndexNotBuiltError,
    InputError,
    LimitError,
    LLMError,
    StoreError,
)
from assistant.web.schemas import ErrorBody, ErrorResponse

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Internal error — the assistant failed; see the server log."
#: The code of one of the package's errors that no row of :data:`ERROR_STATUS` names: told as :data:`INTERNAL_ERROR`.
UNCLASSIFIED = "assistant_error"


class ApiError(Exception):
    """An error answered as ``{"error": {message, type, code}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


ERROR_STATUS: tuple[tuple[type[AssistantError], int, str], ...] = (
    (LimitError, 413, "too_large"),
    (InputError, 422, "invalid_input"),
    (IndexNotBuiltError, 503, "index_not_built"),
    (LLMError, 502, "llm_unavailable"),
    (EmbeddingError, 503, "embedding_failed"),
    (StoreError, 503, "store_unavailable"),
    (ConfigError, 500, "misconfigured"),
)

#: What users are told of an index that is not built or must be rebuilt: what to run, not where — the package's
#: message names the index folder (an absolute PARK_INDEX_DIR is a server path) or the embedder configured.
INDEX_NOT_BUILT = ("The knowledge base has not been built yet, or must be rebuilt — run `park-assistant index` "
                   "(the server log says why).")

#: What users are told instead of the message (which may name internal hosts or paths); the log keeps the detail.
_PUBLIC_MESSAGES: dict[str, str] = {
    "index_not_built": INDEX_NOT_BUILT,
    "llm_unavailable": "The language model is unavailable right now — try again later.",
    "store_unavailable": "The knowledge base is unavailable right now — try again in a moment.",
    "embedding_failed": "The search model failed on this question — try again in a moment.",
    "misconfigured": "The assistant is misconfigured — the operator has been told in the server log.",
}


def classify(exc: AssistantError) -> tuple[int, str, str]:
    """(status, code, public message) of one of the package's errors."""
    for cls, status, code in ERROR_STATUS:
        if isinstance(exc, cls):
            if isinstance(exc, InputError) and exc.code != "invalid_input":
                code = exc.code
            return status, code, _PUBLIC_MESSAGES.get(code, str(exc))
    return 500, UNCLASSIFIED, INTERNAL_ERROR


def public_message(exc: BaseException, internal: str = INTERNAL_ERROR) -> str:
    """What a user is told of ``exc`` on every channel (the web chat too), as the API tells it: an input error's own
    message (it says what to change), the public message of a fault's code, and ``internal`` — the generic
    internal-error message, in the channel's wording — for anything else, whose message may name a server path (a
    feedback or question-log database failure names ``PARK_FEEDBACK_DB``'s file). The log keeps the whole of it."""
    if not isinstance(exc, AssistantError):
        return internal
    _, code, message = classify(exc)
    return internal if code == UNCLASSIFIED else message


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The error body every route and middleware answers with."""
    kind = "invalid_request_error" if 400 <= status < 500 else "server_error"
    body = ErrorResponse(error=ErrorBody(message=message, type=kind, code=code))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def logged(exc: BaseException, doing: str) -> tuple[int, str, str]:
    """Log the whole of ``exc`` (raised while ``doing``) for the operator, and return what a user is told of it:
    ``(status, code, public message)`` — :func:`classify` for one of the package's errors (logged as one line with
    its code), a 500 ``internal_error`` for anything else (logged with its stack trace)."""
    if isinstance(exc, AssistantError):
        status, code, message = classify(exc)
        log.warning("%s failed (%s): %s", doing, code, exc)
        return status, code, message
    log.exception("%s failed: unexpected error", doing, exc_info=exc)
    return 500, "internal_error", INTERNAL_ERROR


def not_ready_response(exc: Exception) -> JSONResponse:
    """``/readyz`` when the assistant cannot say it is ready: 503 ``{"ready": false, "reason", "error"}``, the fault
    told as every route tells it (its code and public message). The probe is public, so the detail — an internal
    address, a path — goes to the log only."""
    _, code, message = logged(exc, "readiness check")
    error = ErrorBody(message=message, type="server_error", code=code)
    return JSONResponse({"ready": False, "reason": message, "error": error.model_dump()}, status_code=503)


def internal_error_response() -> JSONResponse:
    """The answer to an error no handler expected: a 500 that says nothing of the fault (the log has it)."""
    return error_response(500, "internal_error", INTERNAL_ERROR)


def install_error_handlers(app: FastAPI) -> None:
    """Every error a route raises becomes :func:`error_response`; never a stack trace."""

    async def api_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    async def assistant_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, AssistantError)
        return error_response(*logged(exc, "request"))

    async def validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        parts = [f"{'.'.join(str(x) for x in e['loc'] if x != 'body') or 'body'}: {e['msg']}" for e in exc.errors()]
        return error_response(422, "invalid_request", "Invalid request — " + "; ".join(parts))

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return error_response(exc.status_code, "http_error", str(exc.detail), dict(exc.headers or {}))

    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unexpected error", exc_info=exc)
        return internal_error_response()

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(AssistantError, assistant_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
