"""OpenAIChatModel against a real llama.cpp server (tests/llm_server.py) and a tiny scripted HTTP server.

The llama.cpp model is a 270M base model: its words are noise, so these tests check the protocol
(deltas, usage, limits, errors), never the content.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from llm_server import LlamaServer
from support import free_port

from assistant.answering.llm import ChatModel, OpenAIChatModel, collect, count_tokens, langchain_chat_model
from assistant.data import Message, Usage
from assistant.errors import LLMError

HELLO = [Message("system", "You are a helpful assistant."), Message("user", "Tell me about Shenzhen.")]


def complete(model: OpenAIChatModel, messages: Sequence[Message], *, max_tokens: int | None = None) -> str:
    return collect(model.stream(messages, max_tokens=max_tokens))[0]


@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaServer]:
    with LlamaServer() as server:
        yield server


@pytest.fixture()
def model(llama: LlamaServer) -> OpenAIChatModel:
    if not llama.running:  # an outage test stopped it
        llama.start()
    return OpenAIChatModel("gemma-3-270m", base_url=llama.base_url, api_key=None, timeout_s=30)


# --- against the real llama.cpp server -------------------------------------------------------------------


@pytest.mark.slow
def test_complete_returns_text_and_stream_ends_with_usage(model: OpenAIChatModel) -> None:
    text = complete(model, HELLO, max_tokens=12)
    assert isinstance(text, str) and text.strip()
    text, usage = collect(model.stream(HELLO, max_tokens=12))
    assert text.strip() and usage is not None
    assert usage.prompt_tokens > 5  # the chat template wraps both messages
    assert 1 <= usage.completion_tokens <= 12
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


@pytest.mark.slow
def test_stream_yields_several_deltas(model: OpenAIChatModel) -> None:
    chat: ChatModel = model  # the protocol is what the rest of the package sees
    events = list(chat.stream(HELLO, max_tokens=12))
    *deltas, usage = events
    assert len(deltas) >= 3
    assert all(isinstance(d, str) and d for d in deltas)
    # llama.cpp reports usage in the final chunk: one generated token per delta, give or take merges
    assert isinstance(usage, Usage) and len(deltas) <= usage.completion_tokens <= 12


@pytest.mark.slow
def test_max_tokens_is_respected(model: OpenAIChatModel) -> None:
    long_usage = collect(model.stream(HELLO, max_tokens=16))[1]
    short, short_usage = collect(model.stream(HELLO, max_tokens=4))
    assert long_usage is not None and short_usage is not None
    assert short_usage.completion_tokens <= 4 < long_usage.completion_tokens
    assert count_tokens(short) <= 12  # a handful of words, not a paragraph


@pytest.mark.slow
def test_usage_says_where_the_servers_time_went(model: OpenAIChatModel) -> None:
    # llama.cpp's own timings: seconds reading the prompt and generating (the cache reuse of a shared prompt
    # prefix is tested with the Qwen model: Gemma 3's sliding-window attention keeps no reusable prefix).
    usage = collect(model.stream(HELLO, max_tokens=4))[1]
    assert usage is not None and usage.prompt_s > 0 and usage.generate_s > 0
    assert usage.cached_tokens < usage.prompt_tokens


@pytest.mark.slow
def test_each_call_reports_its_own_usage(model: OpenAIChatModel) -> None:
    # Two calls interleaved: each stream ends with its own counts; the model keeps none between calls.
    long, short = model.stream(HELLO, max_tokens=12), model.stream(HELLO, max_tokens=3)
    first_long, first_short = next(long), next(short)
    assert isinstance(first_long, str) and isinstance(first_short, str)
    short_usage, long_usage = list(short)[-1], list(long)[-1]
    assert isinstance(short_usage, Usage) and isinstance(long_usage, Usage)
    assert short_usage.completion_tokens <= 3 < long_usage.completion_tokens
    assert not hasattr(model, "last_usage")


@pytest.mark.slow
def test_langchain_chat_openai_smoke(llama: LlamaServer, model: OpenAIChatModel) -> None:
    chat = langchain_chat_model(model.name, model.base_url, None, 30, max_tokens=8)
    reply = chat.invoke([("system", "Be brief."), ("human", "Say hello.")])
    assert isinstance(reply.content, str) and reply.content
    assert reply.usage_metadata is not None and 1 <= reply.usage_metadata["output_tokens"] <= 8
    chunks = list(langchain_chat_model("gemma-3-270m", llama.base_url, None, 30, max_tokens=8).stream("Hi"))
    assert len(chunks) >= 2


@pytest.mark.slow
def test_server_stopped_mid_stream_raises_llm_error(llama: LlamaServer, model: OpenAIChatModel) -> None:
    # Last of the llama tests: the `model` fixture restarts the server if a later test needs it.
    stream = model.stream(HELLO, max_tokens=400)
    received = [next(stream)]
    llama.stop()  # SIGTERM; the child exits within ~1 s even with this request in flight
    with pytest.raises(LLMError, match="broke off mid-reply") as err:
        received.extend(stream)
    assert str(llama.port) in str(err.value)
    # and the next call finds the outage at once, as an LLMError too
    t0 = time.monotonic()
    with pytest.raises(LLMError, match=r"Cannot reach .* is the server running"):
        complete(model, HELLO, max_tokens=4)
    assert time.monotonic() - t0 < 2


# --- failures that need no model -------------------------------------------------------------------------


def test_unreachable_port_raises_fast() -> None:
    port = free_port()
    model = OpenAIChatModel("m", base_url=f"http://127.0.0.1:{port}/v1", api_key=None, timeout_s=2)
    t0 = time.monotonic()
    with pytest.raises(LLMError, match=rf"Cannot reach the chat model at http://127.0.0.1:{port}/v1"):
        complete(model, HELLO)
    assert time.monotonic() - t0 < 2


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:8080/v1", "127.0.0.1:8080/v1", "http://", "localhost"])
def test_bad_base_url_raises(url: str) -> None:
    with pytest.raises(LLMError, match="is not an http"):
        OpenAIChatModel("m", base_url=url, api_key=None, timeout_s=2)


def test_no_endpoint_configured_raises() -> None:
    with pytest.raises(LLMError, match="OPENAI_API_KEY"):
        OpenAIChatModel("m", base_url=None, api_key=None, timeout_s=2)


def test_repr_hides_key_and_url_credentials() -> None:
    model = OpenAIChatModel("m", base_url="http://user:pw@127.0.0.1:9/v1", api_key="sk-secret-123", timeout_s=2)
    assert "sk-secret-123" not in repr(model) and "pw" not in repr(model)


# --- a scripted HTTP server: replies llama.cpp never gives -------------------------------------------------

Script = Callable[[BaseHTTPRequestHandler], None]


@pytest.fixture()
def scripted() -> Iterator[Callable[[Script], str]]:
    """``serve(script) -> base_url``: a real HTTP server whose POST handler is ``script``."""
    servers: list[ThreadingHTTPServer] = []

    def serve(script: Script) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                script(self)

            def log_message(self, *args: object) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/v1"

    yield serve
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def _sse(handler: BaseHTTPRequestHandler, events: list[str]) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.end_headers()
    for event in events:
        handler.wfile.write(f"data: {event}\n\n".encode())
    handler.wfile.flush()


def _chunk(content: str | None, finish: str | None = None) -> str:
    delta = {"content": content} if content is not None else {}
    return json.dumps({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def test_usage_counted_with_tiktoken_when_server_reports_none(scripted: Callable[[Script], str]) -> None:
    url = scripted(lambda h: _sse(h, [_chunk("深港"), _chunk("合作区"), _chunk(None, "stop"), "[DONE]"]))
    model = OpenAIChatModel("m", base_url=url, api_key=None, timeout_s=5)
    usage = Usage(prompt_tokens=sum(count_tokens(m.content) for m in HELLO),
                  completion_tokens=count_tokens("深港合作区"))
    assert list(model.stream(HELLO)) == ["深港", "合作区", usage]
    assert usage.completion_tokens > 0


def test_malformed_stream_raises(scripted: Callable[[Script], str]) -> None:
    url = scripted(lambda h: _sse(h, [_chunk("ok"), "{not json", "[DONE]"]))
    model = OpenAIChatModel("m", base_url=url, api_key=None, timeout_s=5)
    received: list[str] = []
    with pytest.raises(LLMError, match="could not be read"):
        received.extend(model.stream(HELLO))
    assert received == ["ok"]  # the good delta arrived before the error


def test_reply_without_choices_raises(scripted: Callable[[Script], str]) -> None:
    url = scripted(lambda h: _sse(h, [json.dumps({"hello": "world"}), "[DONE]"]))
    model = OpenAIChatModel("m", base_url=url, api_key=None, timeout_s=5)
    with pytest.raises(LLMError, match="without any choices"):
        complete(model, HELLO)


def _status(code: int, body: dict[str, object]) -> Script:
    def script(h: BaseHTTPRequestHandler) -> None:
        data = json.dumps(body).encode()
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    return script


def test_http_error_is_translated_and_key_redacted(scripted: Callable[[Script], str]) -> None:
    key = "sk-test-ABCDEF0123456789"
    url = scripted(_status(401, {"error": {"message": f"Incorrect API key provided: {key}"}}))
    with pytest.raises(LLMError, match=r"rejected the API key .* OPENAI_API_KEY") as err:
        complete(OpenAIChatModel("m", base_url=url, api_key=key, timeout_s=5), HELLO)
    assert key not in str(err.value)

    url = scripted(_status(500, {"error": {"message": f"boom {key}"}}))
    with pytest.raises(LLMError, match="HTTP 500") as err:
        complete(OpenAIChatModel("m", base_url=url, api_key=key, timeout_s=5), HELLO)
    assert key not in str(err.value) and "***" in str(err.value)


def test_timeout_is_translated(scripted: Callable[[Script], str]) -> None:
    url = scripted(lambda h: time.sleep(2))
    model = OpenAIChatModel("m", base_url=url, api_key=None, timeout_s=0.5)
    t0 = time.monotonic()
    with pytest.raises(LLMError, match=r"did not answer within 0.5s"):
        complete(model, HELLO)
    assert time.monotonic() - t0 < 2
