"""The llama.cpp child server's settings (fast; the supervised server itself is tested with the real models in
test_local_llm.py and, through the tiny Gemma model, in test_llm.py and test_answering.py)."""

from __future__ import annotations

import pytest

from assistant.answering.llm_server import CACHE_RAM_MIB, server_params


def test_the_server_keeps_prompt_prefixes_in_its_slot_and_in_ram() -> None:
    pytest.importorskip("xllamacpp")
    params = server_params("/models/any.gguf", "any", "chatml", "127.0.0.1", 8099, n_ctx=8192, threads=2,
                           parallel=2)
    # The shared system prompt is read once: the slot reuses the last prompt's prefix, and a prompt that
    # another one (a condensed follow-up, a judge call) pushed out of the slot comes back from RAM.
    assert params.cache_prompt is True
    assert params.cache_ram_mib == CACHE_RAM_MIB and 256 <= CACHE_RAM_MIB <= 4096
    assert params.n_parallel == 2 and params.n_ctx == 8192
    assert params.cpuparams.n_threads == 2 and params.cpuparams_batch.n_threads == 2
    assert params.chat_template == "chatml" and params.use_jinja is False
