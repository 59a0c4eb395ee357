"""The whole server as one ASGI app: API + widget (FastAPI) with the gradio web chat mounted at ``/``.

``app.py`` and ``park-assistant serve`` both call :func:`serve`; tests call :func:`build_app`.
"""

from __future__ import annotations

import os
from typing import Any

from assistant.config import Settings

#: Forwarded headers are believed only from PARK_TRUSTED_PROXIES, by the edge middleware: uvicorn's default
#: trusts X-Forwarded-For from 127.0.0.1, which would let any local client choose its address.
UVICORN_OPTIONS: dict[str, Any] = {"proxy_headers": False}


def _offline_gradio() -> None:
    # gradio reads these at import time: no analytics, no hub requests, nothing downloaded at run time.
    for key, value in (("GRADIO_ANALYTICS_ENABLED", "False"), ("HF_HUB_OFFLINE", "1"),
                       ("HF_HUB_DISABLE_TELEMETRY", "1")):
        os.environ.setdefault(key, value)


def build_app(settings: Settings, assistant: Any = None) -> Any:
    """FastAPI app with the API, the widget and the web chat; builds the assistant unless given one."""
    _offline_gradio()
    import gradio

    from assistant.web.api import create_app
    from assistant.web.feedback import FeedbackStore
    from assistant.web.ui import build_ui, launch_options
    from assistant.wiring import build_assistant

    if assistant is None:
        assistant = build_assistant(settings)
        assistant.warm_up()  # the first visitor should not wait for the model to load
    feedback = FeedbackStore(settings.feedback_db)
    app = create_app(assistant, settings, feedback)
    return gradio.mount_gradio_app(app, build_ui(assistant, feedback, settings), path="/", **launch_options())


def serve(settings: Settings) -> None:
    """Build and serve on ``settings.host:settings.port`` (127.0.0.1:7860 by default)."""
    import uvicorn

    uvicorn.run(build_app(settings), host=settings.host, port=settings.port, **UVICORN_OPTIONS)
