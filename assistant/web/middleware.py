"""The edge every request passes first: Host check, client address, Origin check, rate limit, body limit, headers.

One ASGI middleware, outermost, in front of the API, the OpenAI-compatible routes and the gradio web chat
alike, so no route that runs the assistant escapes a check:

1. ``Host`` must be one of ``PARK_ALLOWED_HOSTS`` (default: the bound host, localhost, 127.0.0.1) — a page on
   a rebound DNS name cannot talk to the server as if it were same-origin (400).
2. The client address and scheme are the peer's, or the forwarded ones behind ``PARK_TRUSTED_PROXIES``.
3. API, OpenAI and gradio routes refuse a foreign ``Origin`` (403); a request without Origin (curl, the openai
   client) or from the server's own origin passes — browsers always send Origin on cross-origin fetches.
4. Requests that run the assistant count against the per-client rate limit (429 with ``Retry-After``).
5. A body larger than the limit is refused: by ``Content-Length`` before reading, and while reading a chunked
   body, so it is never buffered whole (413).
6. Security headers on every response (the refusals above and a 500 too), and an allowed site's CORS headers
   on the refusals made here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from assistant.limits import Limits
from assistant.web.errors import error_response, internal_error_response
from assistant.web.limits import UPLOAD_PATH, ClientResolver, SlidingWindowLimiter, is_rate_limited

#: Routes a foreign Origin may not call: the API, the OpenAI-compatible API and the web chat's backend.
GUARDED_PREFIXES = ("/api/", "/v1/", "/gradio_api/")
#: JSON and service routes: nothing to frame, nothing to cache.
_LOCKED_DOWN = ("/api/", "/v1/", "/healthz", "/readyz", "/openapi.json")
_LOCKED_CSP = "default-src 'none'; frame-ancestors 'none'"


class _BodyTooLarge(Exception):
    """Raised into the app by the counting ``receive`` once the body passes the limit."""


def host_name(host_header: str) -> str:
    """The host of a ``Host`` header, without port, lower-case (``[::1]:7860`` → ``::1``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_upload(scope: Scope) -> bool:
    """The one request whose body is a document (its own limit, PARK_MAX_UPLOAD_MB); any other carries a question."""
    return bool(scope["method"] == "POST" and scope["path"] == UPLOAD_PATH)


class EdgeMiddleware:
    """See the module docstring. ``limiter`` is shared with nothing else: one window per client."""

    def __init__(self, app: ASGIApp, *, allowed_origins: Sequence[str], allowed_hosts: Sequence[str],
                 trusted_proxies: Sequence[str], limits: Limits, limiter: SlidingWindowLimiter | None = None) -> None:
        self.app = app
        self.allowed = frozenset(o.rstrip("/") for o in allowed_origins)
        self.hosts = frozenset(h.lower() for h in allowed_hosts)
        self.clients = ClientResolver(trusted_proxies)
        self.limits = limits
        self.limiter = limiter or SlidingWindowLimiter(limits.rate_per_minute)
        self.frame_ancestors = " ".join(["'self'", *sorted(self.allowed)])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path: str = scope["path"]
        if scope["type"] == "http":  # first, so that every answer carries them: the refusals below too
            origin = headers.get("origin")
            send = self._with_headers(send, path, origin if origin is not None and origin.rstrip("/") in self.allowed
                                      else None)
        host = headers.get("host", "")
        if "*" not in self.hosts and host_name(host) not in self.hosts:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await error_response(400, "host_not_allowed", f"Host {host!r} is not served here: add it to "
                                 "PARK_ALLOWED_HOSTS if this server should answer to that name.")(scope, receive, send)
            return
        scope = self._resolve_client(scope, headers)
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope, headers, path)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self._limited_body(scope, receive, send)

    def _resolve_client(self, scope: Scope, headers: Headers) -> Scope:
        """The scope with the client address and scheme a trusted proxy forwarded. Both headers are believed from
        a trusted peer each on its own: a proxy may send either, and a client inside the trusted network has no
        address of its own to forward but still came over the proxy's scheme."""
        client = scope.get("client")
        if not client or not self.clients.trusted(client[0]):
            return scope
        scope = dict(scope, client=(self.clients.resolve(client[0], headers.get("x-forwarded-for")), client[1]))
        proto = (headers.get("x-forwarded-proto") or "").split(",")[-1].strip().lower()
        if proto in ("http", "https"):
            scope["scheme"] = proto if scope["type"] == "http" else {"http": "ws", "https": "wss"}[proto]
        return scope

    def _refusal(self, scope: Scope, headers: Headers, path: str) -> ASGIApp | None:
        """The error response for a request refused before it reaches the app, or None to let it in."""
        origin = headers.get("origin")
        if path.startswith(GUARDED_PREFIXES) and origin is not None and origin.rstrip("/") not in self.allowed \
                and origin != f"{scope.get('scheme', 'http')}://{headers.get('host', '')}":
            return error_response(403, "origin_not_allowed", f"Requests from {origin} are not allowed: the site "
                                  "must be listed in PARK_ALLOWED_ORIGINS to embed the assistant.")
        if is_rate_limited(scope["method"], path):
            client = scope.get("client")
            wait = self.limiter.hit(client[0] if client else "unknown")
            if wait is not None:
                seconds = math.ceil(wait)
                return error_response(429, "rate_limited", f"Too many requests: at most {self.limiter.limit} per "
                                      f"minute from one client. Try again in {seconds} s.",
                                      {"Retry-After": str(seconds)})
        try:
            declared = int(headers.get("content-length") or 0)
        except ValueError:
            return error_response(400, "bad_content_length", "The Content-Length header is not a number.")
        if declared > self._body_limit(scope):
            return self._too_large(scope)
        return None

    def _body_limit(self, scope: Scope) -> int:
        # the upload's limit plus room for the multipart framing around the file
        return self.limits.max_upload_bytes + 64 * 1024 if _is_upload(scope) else self.limits.max_body_bytes

    def _too_large(self, scope: Scope) -> ASGIApp:
        if _is_upload(scope):
            return error_response(413, "file_too_large", f"The upload is larger than {self.limits.max_upload_bytes} "
                                  "bytes (PARK_MAX_UPLOAD_MB).")
        return error_response(413, "body_too_large", f"The request body is larger than {self.limits.max_body_bytes} "
                              "bytes — send a shorter question and fewer history turns.")

    async def _limited_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app with a ``receive`` that counts body bytes; past the limit the app's own answer is dropped
        and a 413 sent instead (a chunked body has no Content-Length to check up front)."""
        received, over, started = 0, False, False
        limit = self._body_limit(scope)

        async def counting_receive() -> AsgiMessage:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: AsgiMessage) -> None:
            nonlocal started
            if over:
                return  # whatever the app made of the interrupted body: replaced by the 413 below
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            pass
        except Exception:
            if not over:
                if not started:
                    # answered here rather than by the app's outermost error handler, which sends past this
                    # middleware: a 500 carries the security headers too (that handler still logs the error)
                    await internal_error_response()(scope, receive, send)
                raise
        if over and not started:
            await self._too_large(scope)(scope, receive, send)

    def _with_headers(self, send: Send, path: str, allowed_origin: str | None) -> Send:
        async def send_with_headers(message: AsgiMessage) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                if allowed_origin is not None and "access-control-allow-origin" not in h:
                    # a refusal made here (429, 413) never passed the CORS middleware: without these an allowed
                    # site's page could not read it, and would show a network error instead of "try again in n s"
                    h["Access-Control-Allow-Origin"] = allowed_origin
                    h["Access-Control-Expose-Headers"] = "Retry-After"
                    h.add_vary_header("Origin")
                h.setdefault("X-Content-Type-Options", "nosniff")
                h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
                if path.startswith(_LOCKED_DOWN):
                    h.setdefault("Cache-Control", "no-store")
                    h.setdefault("Content-Security-Policy", _LOCKED_CSP)
                    h.setdefault("X-Frame-Options", "DENY")
                elif path == "/widget.js":
                    # loaded by <script> on other sites, and may be fetched by pages with COEP
                    h.setdefault("Cross-Origin-Resource-Policy", "cross-origin")
                elif path.startswith(("/docs", "/redoc")):
                    h.setdefault("X-Frame-Options", "DENY")  # Swagger UI loads from a CDN: no CSP here
                else:
                    # the web chat may be iframed by the allowed sites only; old browsers without
                    # frame-ancestors fall back to same-origin framing
                    h.setdefault("Content-Security-Policy", f"frame-ancestors {self.frame_ancestors}")
                    h.setdefault("X-Frame-Options", "SAMEORIGIN")
            await send(message)

        return send_with_headers
