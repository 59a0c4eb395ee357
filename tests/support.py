"""Helpers for the tests that run real servers and a real browser: free loopback ports, uvicorn in a thread,
gradio on a free port, and headless Debian Chromium with the flags that keep it offline.

``tests/`` is not a package: import with ``from support import free_port`` (pytest puts ``tests/`` on
``sys.path``). uvicorn, gradio, playwright and
pytest are imported inside the helpers that need them, so importing this module is cheap and works where
playwright is not installed (the browser tests skip there).

>>> server, thread, base = serve_app(create_app(FakeAssistant(), Settings(), None))   # doctest: +SKIP
>>> with chromium() as browser:                                                       # doctest: +SKIP
...     page = browser.new_page()
...     urls = record_requests(page)
...     page.goto(base + "/docs")
>>> beyond_loopback(urls)                                                             # doctest: +SKIP
[]
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    import pytest
    import uvicorn
    from gradio import Blocks
    from playwright.sync_api import Browser, Page
    from starlette.types import ASGIApp

    from assistant.config import Settings

#: The repository root, the tiny test corpus and the shared development questions.
REPO = Path(__file__).resolve().parent.parent
TINY_SOURCES = REPO / "tests" / "data" / "sources"
ELIGIBILITY_DATA = REPO / "tests" / "data" / "eligibility"
DEV_SET = REPO.parent / "shared" / "eval" / "dev.jsonl"
LOOPBACK = "127.0.0.1"
CHROMIUM = Path("/usr/bin/chromium")
#: Root in a container needs --no-sandbox; the rest stops Chromium fetching anything on its own.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"]
#: gradio phones home and may reach the Hugging Face hub unless told not to.
GRADIO_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def serve_app(app: ASGIApp, **options: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Start uvicorn on a free loopback port in a thread; returns (server, thread, base URL).

    ``options`` go to ``uvicorn.Config`` (pass :data:`assistant.web.server.UVICORN_OPTIONS` to run it as
    ``serve`` does). Stop it with ``server.should_exit = True`` and ``thread.join(10)``.
    """
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return server, thread, f"http://{LOOPBACK}:{port}"


@contextlib.contextmanager
def gradio_env() -> Iterator[None]:
    """:data:`GRADIO_ENV` set for the block (import gradio, build and launch inside it), restored after."""
    import pytest

    with pytest.MonkeyPatch.context() as mp:
        for key, value in GRADIO_ENV.items():
            mp.setenv(key, value)
        yield


@contextlib.contextmanager
def launch_blocks(blocks: Blocks) -> Iterator[str]:
    """Serve gradio ``blocks`` on a free loopback port for the block; yields the page URL, then closes it."""
    from assistant.web.ui import launch_options

    port = free_port()
    blocks.launch(prevent_thread_lock=True, server_name=LOOPBACK, server_port=port, quiet=True,
                  **launch_options())
    try:
        yield f"http://{LOOPBACK}:{port}/"
    finally:
        blocks.close()


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium (:data:`CHROMIUM`, :data:`CHROMIUM_ARGS`), closed when the block ends."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def record_requests(page: Page, *, websockets: bool = False) -> list[str]:
    """A list that fills with the URL of every request ``page`` makes from now on (and WebSocket URLs too)."""
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    if websockets:
        page.on("websocket", lambda ws: urls.append(ws.url))
    return urls


def beyond_loopback(urls: Iterable[str]) -> list[str]:
    """The URLs that leave this machine: all but data:/blob: and those of 127.0.0.1 or localhost."""
    return [u for u in urls
            if urlparse(u).scheme not in ("data", "blob") and urlparse(u).hostname not in (LOOPBACK, "localhost")]


def make_tiny_settings(directory: Path, **overrides: Any) -> Settings:
    """Settings over an empty index folder in ``directory`` whose sources are a copy of the tiny corpus
    (tests/data/sources), with the shipped glossary, term list and eligibility cues; nothing is built yet."""
    import shutil

    from assistant.config import Settings

    index_dir = directory / "index"
    shutil.copytree(TINY_SOURCES, index_dir / "sources")
    for name in ("glossary.tsv", "park_terms.txt", "colloquial.tsv", "eligibility.tsv", "topics.tsv",
                 "unread_details.tsv", "elsewhere.txt", "audiences.tsv"):
        shutil.copy2(REPO / "index" / name, index_dir / name)
    # No local model unless a test asks for one (local_model=<path>), even where it is installed.
    return Settings(index_dir=index_dir, feedback_db=directory / "feedback.sqlite3",
                    tiktoken_cache_dir=REPO / ".tiktoken", **{"local_model": "off", **overrides})


def make_tiny_index(directory: Path, **overrides: Any) -> Settings:
    """:func:`make_tiny_settings` with the tiny corpus indexed by the fake embedder (no model)."""
    from assistant.testing import FakeEmbedder
    from assistant.wiring import build_indexer

    settings = make_tiny_settings(directory, **overrides)
    build_indexer(settings, FakeEmbedder()).build()
    return settings


def make_fake_index(directory: Path, source: Path, **overrides: Any) -> Settings:
    """Settings over an index of the one document ``source`` alone, built with the fake embedder."""
    import shutil

    from assistant.testing import FakeEmbedder
    from assistant.wiring import build_indexer

    settings = make_tiny_settings(directory, **overrides)
    shutil.rmtree(settings.index_dir / "sources")
    (settings.index_dir / "sources").mkdir()
    shutil.copy2(source, settings.index_dir / "sources")
    build_indexer(settings, FakeEmbedder()).build()
    return settings


def record_syncs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, bytes | None]]:
    """Patch ``os.fsync`` and ``os.replace`` to record, in order: ``("fsync", file, its bytes when synced)``,
    ``("fsync dir", folder, None)`` and ``("replace", file renamed, None)``, paths resolved. Linux only (reads
    /proc/self/fd)."""
    import os
    import stat

    events: list[tuple[str, str, bytes | None]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            events.append(("fsync dir", path, None))
        else:
            events.append(("fsync", path, Path(path).read_bytes()))
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        events.append(("replace", str(Path(src).resolve()), None))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events
