"""llama.cpp's OpenAI-compatible server (PyPI ``xllamacpp``) as a managed child process.

:class:`LlamaServer` starts the child on a free loopback port and waits for ``/health``; :class:`Supervisor`
keeps it running (a watcher restarts it when it dies, with a growing pause between tries) and stops it on
exit; :class:`LocalChatModel` is the :class:`~assistant.answering.llm.ChatModel` over it: while the server is
down or restarting, a call fails at once with :class:`~assistant.errors.LLMError`, so answers fall back to
quotes instead of waiting.

The child is this module run with ``python -m``. It dies with its parent (``PR_SET_PDEATHSIG`` on Linux, and a
thread that watches the parent's pid everywhere), so a killed app leaves no model server behind.

>>> with Supervisor(LocalModel(path, "qwen", "chatml")) as sup:        # doctest: +SKIP
...     model = LocalChatModel(sup, timeout_s=30)
...     print(collect(model.stream([Message("user", "你好")], max_tokens=16))[0])
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from assistant.answering.local_model import LocalModel
from assistant.data import Message, Usage
from assistant.errors import LLMError

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 180.0
#: Restart pauses after a death: 1 s, 2 s, 4 s … up to a minute; a server that stays up resets them.
RESTART_BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
#: RAM for prompts pushed out of a slot (llama.cpp's host prompt cache): the packaged model's state is ~28 KB a
#: token, so this keeps about 60 prompts of ~600 tokens (llama.cpp would take up to 8 GiB).
CACHE_RAM_MIB = 1024


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(root_url: str, timeout_s: float = 1.0) -> bool:
    """Does llama.cpp's ``/health`` answer 200 (model loaded)?"""
    try:
        with urllib.request.urlopen(f"{root_url}/health", timeout=timeout_s) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class LlamaServer:
    """One llama.cpp server child process; ``base_url`` ends in ``/v1``."""

    def __init__(self, model: LocalModel, *, threads: int = 2, n_ctx: int = 4096, parallel: int = 1,
                 port: int | None = None, host: str = "127.0.0.1", log_path: Path | None = None) -> None:
        self.model = model
        self.threads, self.n_ctx, self.parallel = threads, n_ctx, parallel
        self.host = host
        self.port = port or free_port()
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"park-llama-{os.getpid()}-{self.port}.log"
        self.startup_s: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout_s: float = STARTUP_TIMEOUT_S) -> LlamaServer:
        """Start the child and wait for ``/health``; :class:`LLMError` with the log's tail if it never comes."""
        t0 = time.monotonic()
        cmd = [sys.executable, "-m", "assistant.answering.llm_server", "--model", str(self.model.path),
               "--alias", self.model.alias, "--chat-template", self.model.chat_template, "--host", self.host,
               "--port", str(self.port), "--ctx", str(self.n_ctx), "--threads", str(self.threads),
               "--parallel", str(self.parallel), "--parent", str(os.getpid())]
        with self.log_path.open("wb") as out:
            self._proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        while time.monotonic() - t0 < timeout_s:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise LLMError(f"the local model server exited with {code} while starting:\n{self.log_tail()}")
            if healthy(self.root_url):
                self.startup_s = time.monotonic() - t0
                return self
            time.sleep(0.1)
        self.stop()
        raise LLMError(f"the local model server was not ready after {timeout_s:.0f}s (is the machine very busy? "
                       f"PARK_LLM_THREADS sets its threads):\n{self.log_tail()}")

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``; idempotent."""
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
        """SIGKILL at once, as a crash would (tests); the supervisor sees a death and restarts it."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"


class Supervisor:
    """Keeps one :class:`LlamaServer` running: starts it, restarts it when it dies, stops it on exit."""

    def __init__(self, model: LocalModel, *, threads: int = 2, n_ctx: int = 4096, parallel: int = 1,
                 port: int | None = None, host: str = "127.0.0.1", check_s: float = 0.5) -> None:
        self.server = LlamaServer(model, threads=threads, n_ctx=n_ctx, parallel=parallel, port=port, host=host)
        self.check_s = check_s
        self.restarts = 0
        self._ready = threading.Event()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self.server.model.alias

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def ready(self) -> bool:
        """Is the server up now (health seen and the process alive)?"""
        return self._ready.is_set() and self.server.running

    def start(self, wait: bool = True, timeout_s: float = STARTUP_TIMEOUT_S) -> Supervisor:
        """Start the server and its watcher; with ``wait`` block until it is healthy (raise if it fails)."""
        atexit.register(self.close)
        if wait:
            self._start_once(timeout_s)
        self._watcher = threading.Thread(target=self._watch, name="llama-supervisor", daemon=True)
        self._watcher.start()
        return self

    def _start_once(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            self._ready.clear()
            self.server.stop()
            self.server.start(timeout_s)
            self._ready.set()
            log.info("local model %s ready at %s (%.1fs)", self.name, self.server.base_url, self.server.startup_s)

    def _watch(self) -> None:
        failures = 0
        while not self._closed.wait(self.check_s):
            if self.server.running and self._ready.is_set():
                failures = 0
                continue
            self._ready.clear()
            if failures:  # the first start after a death is at once; later ones back off
                pause = RESTART_BACKOFF_S[min(failures - 1, len(RESTART_BACKOFF_S) - 1)]
                if self._closed.wait(pause):
                    return
            log.warning("local model server is down; restarting it")
            try:
                self._start_once()
                self.restarts += 1
                failures = 0
            except LLMError as exc:
                failures += 1
                log.error("local model server failed to restart: %s", exc)

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait until the server is up (also through a restart); False after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.ready:
                return True
            self._ready.wait(min(0.2, max(0.0, deadline - time.monotonic())))
            time.sleep(0.05)
        return self.ready

    def close(self) -> None:
        """Stop the watcher and the server (idempotent; also run at interpreter exit)."""
        self._closed.set()
        with self._lock:
            self.server.stop()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=5)
        atexit.unregister(self.close)

    def __enter__(self) -> Supervisor:
        return self.start() if self._watcher is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalChatModel:
    """A :class:`~assistant.answering.llm.ChatModel` over a supervised local server (OpenAI-compatible)."""

    def __init__(self, supervisor: Supervisor, *, timeout_s: float = 30.0, temperature: float = 0.0) -> None:
        from assistant.answering.llm import OpenAIChatModel

        self.supervisor = supervisor
        self.name = supervisor.name
        self._model = OpenAIChatModel(supervisor.name, base_url=supervisor.base_url, api_key=None,
                                      timeout_s=timeout_s, temperature=temperature)

    def stream(self, messages: Sequence[Message], *, max_tokens: int | None = None,
               timeout_s: float | None = None) -> Iterator[str | Usage]:
        if not self.supervisor.ready:
            raise LLMError("the local model server is not running (it is being restarted)")
        yield from self._model.stream(messages, max_tokens=max_tokens, timeout_s=timeout_s)


# -- the child process ------------------------------------------------------------------------------------------
def _die_with_parent(parent: int) -> None:
    """Exit when the parent does: PR_SET_PDEATHSIG where Linux offers it, and a pid watch everywhere."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG = 1

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(0)


def server_params(model: str, alias: str, chat_template: str, host: str, port: int, n_ctx: int, threads: int,
                  parallel: int) -> Any:
    """llama.cpp's server settings (an ``xllamacpp.CommonParams``) for the child."""
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = model
    params.model_alias = alias
    params.hostnames = [host]
    params.port = port
    params.n_ctx = n_ctx  # the whole KV cache, split across the parallel slots
    params.n_parallel = parallel
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.n_threads_http = 2
    # Every answer prompt starts with the same system prompt: the slot keeps the last prompt's computation and
    # reuses its longest shared prefix (cache_prompt), and a prompt pushed out of the slot by another one (a
    # condensed follow-up, a judge call) is kept in RAM and brought back when a later prompt shares more of it.
    params.cache_prompt = True
    params.cache_ram_mib = CACHE_RAM_MIB
    # A built-in template name: with jinja on, chat_template would be read as Jinja source.
    params.use_jinja = False
    params.chat_template = chat_template
    params.sampling.seed = 1234
    return params


def serve(model: str, alias: str, chat_template: str, host: str, port: int, n_ctx: int, threads: int,
          parallel: int) -> None:
    """Child body: load the model and serve HTTP until SIGTERM/SIGINT."""
    import xllamacpp as xlc

    params = server_params(model, alias, chat_template, host, port, n_ctx, threads, parallel)
    server = xlc.Server(params)  # serves on a background thread
    print(f"serving {model} as {alias!r} at http://{host}:{port}/v1", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.2):
        pass
    # A clean shutdown waits for the request in flight: cap it at 1 s.
    watchdog = threading.Timer(1.0, os._exit, (0,))
    watchdog.daemon = True
    watchdog.start()
    del server


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Serve a GGUF with llama.cpp (child of park-assistant).")
    p.add_argument("--model", required=True)
    p.add_argument("--alias", required=True)
    p.add_argument("--chat-template", default="chatml")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ctx", type=int, default=4096)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--parallel", type=int, default=1)
    p.add_argument("--parent", type=int, default=0, help="exit when this process does")
    a = p.parse_args(argv)
    if a.parent:
        _die_with_parent(a.parent)
    serve(a.model, a.alias, a.chat_template, a.host, a.port, a.ctx, a.threads, a.parallel)


if __name__ == "__main__":
    main()
