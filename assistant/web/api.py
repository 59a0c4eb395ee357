"""The HTTP API as one app: JSON and server-sent events for the widget, an OpenAI-compatible endpoint, the widget.

The web edge is a package; this module only assembles it:

* :mod:`assistant.web.schemas` — the web layer's JSON types (internal dataclasses are never serialised directly)
* :mod:`assistant.web.errors` — the package's errors as ``{"error": {message, type, code}}``
* :mod:`assistant.web.middleware` — Host, Origin, rate and body checks and security headers, before any route
* :mod:`assistant.web.routes` — health, readiness, widget, ask, sources, feedback
* :mod:`assistant.web.openai_compat` — ``/v1/chat/completions`` and ``/v1/models``
* :mod:`assistant.web.admin` — the editors' API (documents, index jobs, gaps, feedback), off without a token
* :mod:`assistant.web.server` — the whole server, with the gradio web chat (:mod:`assistant.web.ui`) at ``/``

Every answer keeps its ``[n]`` markers in the text and carries the matching citations beside it, in every
channel (JSON, SSE, OpenAI-compatible).

>>> from assistant.config import Settings
>>> from assistant.testing import FakeAssistant
>>> app = create_app(FakeAssistant(), Settings(allowed_origins=("https://park.example",)), feedback=None)
>>> sorted(r.path for r in app.routes if r.path.startswith("/api/v1/ask"))
['/api/v1/ask', '/api/v1/ask/stream']
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from assistant.config import Settings
from assistant.data import AssistantLike
from assistant.web.admin import AdminDeps, AdminTools, add_admin_routes
from assistant.web.errors import install_error_handlers
from assistant.web.middleware import EdgeMiddleware
from assistant.web.openai_compat import add_openai_routes
from assistant.web.questions import QuestionLog
from assistant.web.routes import (
    Deps,
    FeedbackSink,
    add_api_routes,
    add_not_found_routes,
    add_service_routes,
)


def create_app(assistant: AssistantLike, settings: Settings, feedback: FeedbackSink | None,
               questions: QuestionLog | None = None, admin: AdminTools | None = None) -> FastAPI:
    """The API around a built assistant. Nothing is created here but the app: dependencies come in.

    >>> from assistant.testing import FakeAssistant
    >>> from fastapi.testclient import TestClient
    >>> client = TestClient(create_app(FakeAssistant(), Settings(), feedback=None), base_url="http://127.0.0.1")
    >>> client.post("/api/v1/ask", json={"question": "合作区面积多大？"}).json()["citations"][0]["n"]
    1
    """
    app = FastAPI(title="Hetao park policy assistant API", version="1", docs_url="/docs", redoc_url=None,
                  description="Cited answers about the Hetao Shenzhen–Hong Kong S&T Innovation Cooperation Zone.")
    deps = Deps(assistant, settings, feedback, questions)
    install_error_handlers(app)
    add_service_routes(app, deps)
    add_api_routes(app, deps)
    if admin is not None:  # routes answer 404 until PARK_ADMIN_TOKEN is set
        add_admin_routes(app, AdminDeps(settings, admin, questions, feedback))
    add_openai_routes(app, deps)
    add_not_found_routes(app)
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.allowed_origins), allow_credentials=False,
                       allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                       allow_headers=["Content-Type", "Authorization"],
                       expose_headers=["Retry-After"], max_age=600)
    app.add_middleware(EdgeMiddleware, allowed_origins=settings.allowed_origins,  # outermost: runs first
                       allowed_hosts=settings.served_hosts, trusted_proxies=settings.trusted_proxies,
                       limits=settings.limits)
    return app
