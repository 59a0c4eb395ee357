"""The whole server as one ASGI app: API + widget (FastAPI) with the gradio web chat mounted at ``/``.

``app.py`` and ``park-assistant serve`` build the assistant (``assistant.wiring.live_assistant``) and call
:func:`serve`; tests call :func:`build_app` with the assistant they made.
"""

from __future__ import annotations

import logging
import signal
from typing import Any

from assistant.config import Settings
from assistant.web.admin import AdminTools
from assistant.web.reload import LiveAssistant

log = logging.getLogger(__name__)

#: Forwarded headers are believed only from PARK_TRUSTED_PROXIES, by the edge middleware: uvicorn's default
#: trusts X-Forwarded-For from 127.0.0.1, which would let any local client choose its address.
UVICORN_OPTIONS: dict[str, Any] = {"proxy_headers": False}


def build_app(settings: Settings, assistant: Any, admin: AdminTools | None = None) -> Any:
    """FastAPI app with the API, the widget and the web chat, serving ``assistant``.

    ``assistant`` is any :class:`~assistant.data.AssistantLike`; a :class:`LiveAssistant` (see
    ``assistant.wiring.live_assistant``) also moves to each new index build. The web chat sends no analytics
    (``analytics_enabled=False`` on its Blocks), so nothing here needs the network. ``admin`` (see
    ``assistant.wiring.admin_tools``) adds the editors' API and page, which stay 404 without PARK_ADMIN_TOKEN.
    """
    import gradio

    from assistant.web.api import create_app
    from assistant.web.feedback import FeedbackStore
    from assistant.web.questions import QuestionLog
    from assistant.web.ui import build_ui, launch_options

    feedback, questions = FeedbackStore(settings.feedback_db), QuestionLog(settings.feedback_db)
    app = create_app(assistant, settings, feedback, questions, admin)
    app.state.live = assistant if isinstance(assistant, LiveAssistant) else None
    return gradio.mount_gradio_app(app, build_ui(assistant, feedback, settings, questions), path="/",
                                   **launch_options())


def serve(settings: Settings, assistant: Any, admin: AdminTools | None = None) -> None:
    """Serve ``assistant`` on ``settings.host:settings.port`` (127.0.0.1:7860 by default).

    With a :class:`LiveAssistant`, ``kill -HUP <pid>`` makes the server look for a new index build at once
    (it also looks every ``PARK_RELOAD_INTERVAL`` seconds).
    """
    import uvicorn

    if settings.host in ("0.0.0.0", "::") and not settings.allowed_hosts:
        log.warning("serving on all interfaces, but only Host: localhost / 127.0.0.1 is answered — set "
                    "PARK_ALLOWED_HOSTS to the name(s) clients use")
    app = build_app(settings, assistant, admin)
    live = app.state.live
    if live is not None:
        live.start()
        signal.signal(signal.SIGHUP, lambda *_: live.wake())
    uvicorn.run(app, host=settings.host, port=settings.port, **UVICORN_OPTIONS)
