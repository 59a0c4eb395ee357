"""The server's side of the limits policy: who a client is, how often it may ask, how large a body may be.

The numbers come from :class:`assistant.limits.Limits`; this module only applies them to HTTP.

A client is its TCP peer address. ``X-Forwarded-For`` is believed only when the peer is one of
``PARK_TRUSTED_PROXIES`` (none by default): otherwise anyone could rotate the header to escape the rate limit.

>>> ClientResolver(("10.0.0.0/8",)).resolve("10.1.2.3", "203.0.113.9, 10.0.0.7")
'203.0.113.9'
>>> ClientResolver(()).resolve("127.0.0.1", "203.0.113.9")
'127.0.0.1'
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

#: Requests that run the assistant, read the index or write a file: each counts against the per-client rate limit.
LIMITED_POSTS = ("/api/v1/ask", "/api/v1/feedback", "/v1/chat/completions",
                 # the web chat's events (gradio): answering, rating and the example buttons all start here
                 "/gradio_api/queue/join", "/gradio_api/run/", "/gradio_api/api/", "/gradio_api/call/",
                 # gradio's file upload, which writes to its temp folder (the web chat takes no files)
                 "/gradio_api/upload")
LIMITED_GETS = ("/api/v1/sources/",)
#: The admin API: every request counts (a token guess too), except polling a job's status.
ADMIN_PREFIX, UNLIMITED_ADMIN = "/api/v1/admin/", "/api/v1/admin/jobs/"
#: The one request whose body may be a document rather than a question.
UPLOAD_PATH = "/api/v1/admin/documents"


def is_rate_limited(method: str, path: str) -> bool:
    """True for the requests :data:`LIMITED_POSTS` / :data:`LIMITED_GETS` name; a CORS preflight never counts."""
    if method == "OPTIONS":  # the browser's own question before an allowed site's call, which then counts
        return False
    if path.startswith(ADMIN_PREFIX) or path == UPLOAD_PATH:
        return not path.startswith(UNLIMITED_ADMIN)
    if method == "POST":
        return path.startswith(LIMITED_POSTS)
    return method == "GET" and path.startswith(LIMITED_GETS)


class SlidingWindowLimiter:
    """At most ``limit`` hits per ``window_s`` seconds per key; ``hit`` returns seconds to wait, or None."""

    def __init__(self, limit: int, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        if self.limit <= 0:
            return None
        now = self.clock()
        with self._lock:
            if len(self._hits) > 10_000:  # forget idle clients so memory stays bounded
                self._hits = {k: q for k, q in self._hits.items() if q and q[-1] > now - self.window_s}
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= now - self.window_s:
                q.popleft()
            if len(q) >= self.limit:
                return max(q[0] + self.window_s - now, 0.001)
            q.append(now)
            return None


class ClientResolver:
    """The client address of a request: the peer, or — behind a trusted proxy — the address it forwarded.

    The rightmost ``X-Forwarded-For`` entry that is not itself a trusted proxy is the client: entries to its
    left were written by the client and prove nothing.
    """

    def __init__(self, trusted_proxies: Sequence[str]) -> None:
        self.networks = tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies)

    def trusted(self, address: str) -> bool:
        if not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def resolve(self, peer: str, forwarded_for: str | None) -> str:
        if not forwarded_for or not self.trusted(peer):
            return peer
        for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer  # a malformed chain is not believed
            if not self.trusted(hop):
                return hop
        return peer
