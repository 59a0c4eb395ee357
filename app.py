"""One screen: settings → assistant → web chat at /, API at /api/v1 and /v1, widget at /widget.js.

    .venv/bin/python app.py            # http://127.0.0.1:7860 (PARK_HOST / PARK_PORT to change)
"""

from __future__ import annotations

from assistant.config import Settings
from assistant.web.server import build_app, serve

__all__ = ["build_app", "main"]


def main() -> None:
    serve(Settings.from_env())


if __name__ == "__main__":
    main()
