"""One screen: settings → assistant → web chat at /, API at /api/v1 and /v1, widget at /widget.js.

    .venv/bin/python app.py            # http://127.0.0.1:7860 (PARK_HOST / PARK_PORT to change)
"""

from __future__ import annotations

from typing import Any

from assistant.config import Settings
from assistant.web import server
from assistant.wiring import admin_tools, live_assistant

__all__ = ["build_app", "main"]


def build_app(settings: Settings) -> Any:
    """The whole ASGI app over the index's live build (what ``main`` serves), for tests and other servers."""
    return server.build_app(settings, live_assistant(settings), admin_tools(settings))


def main() -> None:
    settings = Settings.from_env()
    server.serve(settings, live_assistant(settings), admin_tools(settings))


if __name__ == "__main__":
    main()
