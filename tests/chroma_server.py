"""A real chroma server for tests: ``chroma run`` (the CLI installed with chromadb) in a child process.

Start-up takes about 1.5 s on an idle machine. Readiness is the heartbeat endpoint answering 200.

>>> with chroma_server(tmp_path / "chroma") as server:     # doctest: +SKIP
...     client = chromadb.HttpClient(host=server.host, port=server.port)

Use it as a module-scoped pytest fixture so one server serves a whole test file::

    from chroma_server import chroma_server_fixture
    chroma = pytest.fixture(scope="module")(chroma_server_fixture)

Indexes that share one server must use distinct ``Settings.collection`` names: a build drops every
collection with its ``<collection>__`` prefix except the live one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import free_port

CHROMA_BIN = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "chroma"
STARTUP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ChromaServer:
    """Where a running ``chroma run`` listens."""

    host: str
    port: int
    path: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _heartbeat(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/api/v2/heartbeat", timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def chroma_server(path: Path, port: int | None = None) -> Iterator[ChromaServer]:
    """Run ``chroma run --path <path>`` on 127.0.0.1 until the block ends; the process is always killed."""
    path.mkdir(parents=True, exist_ok=True)
    server = ChromaServer("127.0.0.1", port or free_port(), path, path.parent / f"{path.name}.log")
    with server.log.open("wb") as log:
        # Its own session, so that stopping it also stops anything it spawned, and nothing else.
        proc = subprocess.Popen([str(CHROMA_BIN), "run", "--host", server.host, "--port", str(server.port),
                                 "--path", str(path)], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _heartbeat(server.url):
            if proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {proc.returncode}: "
                                   f"{server.log.read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"chroma run not ready after {STARTUP_TIMEOUT_S:.0f} s: "
                                   f"{server.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        yield server
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def chroma_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """Pytest fixture body: one chroma server over a fresh folder (register with ``scope="module"``)."""
    with chroma_server(tmp_path_factory.mktemp("chroma-server") / "data") as server:
        yield server
