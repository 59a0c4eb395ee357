"""The widget script as served: ``static/widget.js`` with its UI strings from the message files, and the
response headers that let browsers and proxies cache it (``ETag``, ``Cache-Control``, 304 on a match).

The strings live once, in ``assistant/messages/<lang>.json`` under ``widget.*``; the script carries a
``/*STRINGS*/{}`` placeholder that is replaced here, when the server starts serving, by the three tables.

>>> b"/*STRINGS*/" in widget_script()
False
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from assistant.lang import LANGS
from assistant.messages import catalogue

WIDGET_JS = Path(__file__).parent / "static" / "widget.js"
PLACEHOLDER = "/*STRINGS*/{}"
PREFIX = "widget."
#: Strings the widget shares with the web chat, passed under their own names (``lifecycle.in_force``).
SHARED = ("lifecycle.",)
#: Browsers may reuse the script for 5 minutes, then revalidate it with its ETag (a 304 costs no body).
CACHE_CONTROL = "public, max-age=300"


def widget_strings() -> dict[str, dict[str, str]]:
    """The widget's UI strings by language: keys without their ``widget.`` prefix, and the :data:`SHARED` ones
    (a cited policy's lifecycle) as they are."""
    return {lang: {(k[len(PREFIX):] if k.startswith(PREFIX) else k): v for k, v in catalogue(lang).items()
                   if k.startswith((PREFIX, *SHARED))} for lang in LANGS}


@cache
def widget_script() -> bytes:
    """The script with its strings in place (read once per process)."""
    source = WIDGET_JS.read_text(encoding="utf-8")
    if PLACEHOLDER not in source:
        raise RuntimeError(f"{WIDGET_JS} lost its {PLACEHOLDER} placeholder — the widget would have no strings")
    table = json.dumps(widget_strings(), ensure_ascii=False, separators=(",", ":"))
    return source.replace(PLACEHOLDER, table, 1).encode("utf-8")


@cache
def _etag() -> str:
    return '"' + hashlib.sha256(widget_script()).hexdigest()[:32] + '"'


def widget_response(request: Request) -> Response:
    """``GET``/``HEAD /widget.js``: the script, or 304 when the browser's copy (``If-None-Match``) is current."""
    headers = {"ETag": _etag(), "Cache-Control": CACHE_CONTROL}
    match = request.headers.get("if-none-match", "")
    if _etag() in (t.strip().removeprefix("W/") for t in match.split(",")) or match.strip() == "*":
        return Response(status_code=304, headers=headers)
    body = widget_script()
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, media_type="text/javascript; charset=utf-8", headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)
