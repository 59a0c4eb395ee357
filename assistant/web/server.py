"""The whole server as one ASGI app: API + widget (FastAPI) with the gradio web chat mounted at ``/``.

``app.py`` and ``park-assistant serve`` both call :func:`serve`; tests call :func:`build_app`.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from assistant.config import Settings
from assistant.web.reload import IndexBuilds, LiveAssistant

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

    live = None
    if assistant is None:
        assistant = live = live_assistant(settings)
        live.warm_up()  # the first visitor should not wait for the model to load
        live.start()
    feedback = FeedbackStore(settings.feedback_db)
    app = create_app(assistant, settings, feedback)
    app.state.live = live
    return gradio.mount_gradio_app(app, build_ui(assistant, feedback, settings), path="/", **launch_options())


def live_assistant(settings: Settings) -> LiveAssistant:
    """The assistant over the index's live build, moving to each new build (see :mod:`assistant.web.reload`).

    The embedder and the chat model are built once and shared by every build's assistant.
    """
    from assistant.wiring import build_assistant, build_chat_model, build_client, build_embedder

    embedder, chat_model = build_embedder(settings), build_chat_model(settings)
    builds = IndexBuilds(settings.index_dir, build_client(settings), settings.collection)
    return LiveAssistant(lambda: build_assistant(settings, embedder=embedder, chat_model=chat_model), builds,
                         interval_s=settings.reload_interval_s)


def serve(settings: Settings) -> None:
    """Build and serve on ``settings.host:settings.port`` (127.0.0.1:7860 by default).

    ``kill -HUP <pid>`` makes the server look for a new index build at once (it also looks every
    ``PARK_RELOAD_INTERVAL`` seconds).
    """
    import uvicorn

    app = build_app(settings)
    live = app.state.live
    if live is not None:
        signal.signal(signal.SIGHUP, lambda *_: live.wake())
    uvicorn.run(app, host=settings.host, port=settings.port, **UVICORN_OPTIONS)
