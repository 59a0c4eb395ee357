"""The web chat: pure rendering and handlers (fast), then the real page in headless Chromium (slow).

The browser test launches the gradio Blocks on a free loopback port with :class:`FakeAssistant`, asks a
question, waits for the streamed answer, opens a footnote, rates the answer and checks the SQLite row,
records every request the page makes (none may leave loopback) and keeps artifacts/webchat.png.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from support import REPO, beyond_loopback, chromium, gradio_env, launch_blocks, record_requests

from assistant.config import Settings
from assistant.data import Answer, Chunk, Citation, Delta, Message
from assistant.errors import LLMError
from assistant.testing import FakeAssistant
from assistant.web.feedback import FeedbackStore
from assistant.web.ui import WebChat, new_session, render_answer, render_citation, render_error, render_text


def _citation(**changes: Any) -> Citation:
    base: dict[str, Any] = {
        "n": 1, "chunk_id": "c1", "source": "hetao-plan-digest.md", "title": "规划要点摘编", "section": "〇、文件概况",
        "quote": "总面积约3.89平方公里。", "start": 0, "end": 12, "passage_text": "总面积约3.89平方公里。",
        "doc_no": "国发〔2023〕12号", "date": "2023-08-08", "issuer": "国务院",
    }
    base.update(changes)
    return Citation(**base)


# ------------------------------------------------------------------------------------------------
# Rendering


def test_render_escapes_script_from_a_document_quote() -> None:
    evil = _citation(quote='<script>alert("x")</script>', title="<b>T</b>", section="A & B",
                     passage_text="<img src=x onerror=alert(1)>", issuer="<i>国务院</i>")
    out = render_answer(Answer(question="q", text="See <script>bad()</script> here[1].", citations=(evil,)))
    assert "<script>" not in out and "<img" not in out and "<b>T</b>" not in out and "<i>" not in out
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in out
    assert "&lt;script&gt;bad()&lt;/script&gt;" in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in out
    assert "A &amp; B" in out
    assert '<sup class="hp-ref">[1]</sup>' in out


def test_render_citation_footnote_and_mode() -> None:
    c = _citation(url="javascript:alert(1)", verified=False)
    note = render_citation(c)
    assert note.startswith('<details class="hp-cite"><summary>')
    assert "[1]</span> 规划要点摘编 · 国发〔2023〕12号 · 〇、文件概况</summary>" in note
    assert '<blockquote class="hp-quote">总面积约3.89平方公里。</blockquote>' in note
    assert "国务院" in note and "2023-08-08" in note
    assert "javascript:" not in note  # only http(s) links are rendered
    assert "not verified" in note
    assert "\n" not in note  # one HTML block: Markdown must not rewrite the quote

    extractive = render_answer(Answer(question="q", text="a[1]", citations=(c,)))
    assert "摘录 · extractive" in extractive
    llm = render_answer(Answer(question="q", text="a", mode="llm", model="gpt-4o-mini",
                               notice="LLM <slow>, showing quoted answer"))
    assert "模型 · gpt-4o-mini" in llm and "LLM &lt;slow&gt;, showing quoted answer" in llm
    assert "未找到依据 · declined" in render_answer(Answer(question="q", text="no", mode="decline", answerable=False))
    assert render_text("x[12] y [a]") == 'x<sup class="hp-ref">[12]</sup> y [a]'


def test_render_error_hides_internal_details() -> None:
    assert "LLM &lt;down&gt;" in render_error(LLMError("LLM <down>"))
    internal = render_error(RuntimeError("secret path /etc/x"))
    assert "secret" not in internal and "Internal error" in internal


# ------------------------------------------------------------------------------------------------
# Handlers, driven without a browser


class _FailingAssistant(FakeAssistant):
    def stream(self, question: str, history: Sequence[Message] = (), *,
               lang: str | None = None) -> Iterator[Delta | Answer]:
        yield Delta("部分")
        raise LLMError("LLM endpoint http://127.0.0.1:9 unreachable — check OPENAI_BASE_URL")


class _RecordingAssistant(FakeAssistant):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, list[Message], str | None]] = []

    def stream(self, question: str, history: Sequence[Message] = (), *,
               lang: str | None = None) -> Iterator[Delta | Answer]:
        self.calls.append((question, list(history), lang))
        yield from super().stream(question, history, lang=lang)

    def chunk(self, chunk_id: str) -> Chunk | None:
        return None


def _last(gen: Iterator[tuple[Any, ...]]) -> tuple[Any, ...]:
    out = None
    for out in gen:  # noqa: B007
        pass
    assert out is not None
    return out


def test_handlers_multi_turn_history_and_feedback(tmp_path: Path) -> None:
    assistant = _RecordingAssistant()
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    chat = WebChat(assistant, store, max_history_turns=1)

    steps = list(chat.respond("河套合作区总面积有多大？", "auto", new_session()))
    assert len(steps) >= 2 and steps[0][3] is False  # feedback disabled while streaming
    chat_value, box, session, enabled, _ = steps[-1]
    assert box == "" and enabled is True
    assert chat_value[-1]["role"] == "assistant" and "3.89平方公里" in chat_value[-1]["content"]
    assert '<details class="hp-cite">' in chat_value[-1]["content"]

    _, _, session, _, _ = _last(chat.respond("深圳園區呢？", "zh-Hant", session))
    _, _, session, _, _ = _last(chat.respond("And the third?", "en", session))
    assert assistant.calls[0] == ("河套合作区总面积有多大？", [], None)
    _, h2, lang2 = assistant.calls[1]
    assert lang2 == "zh-Hant" and [m.role for m in h2] == ["user", "assistant"]
    assert h2[0].content == "河套合作区总面积有多大？" and h2[1].content.startswith("摘录：")
    # max_history_turns=1: only the previous turn is passed on.
    q3, h3, _ = assistant.calls[2]
    assert q3 == "And the third?" and [m.content for m in h3][:1] == ["深圳園區呢？"] and len(h3) == 2
    assert len(session["chat"]) == 6

    status, box, enabled, session = chat.rate(-1, "  缺少香港园区 ", session)
    assert "#1" in status and box == "" and enabled is False
    (row,) = store.recent(5)
    assert row["question"] == "And the third?" and row["rating"] == -1 and row["reason"] == "缺少香港园区"
    assert row["citations"][0]["quote"] == "河套深港科技创新合作区总面积约3.89平方公里。"
    assert row["meta"]["source"] == "webchat" and row["mode"] == "extractive"


def test_handler_shows_assistant_errors_as_a_message(tmp_path: Path) -> None:
    chat = WebChat(_FailingAssistant(), FeedbackStore(tmp_path / "fb.sqlite3"))
    chat_value, _, session, enabled, _ = _last(chat.respond("问题", "auto", new_session()))
    content = chat_value[-1]["content"]
    assert "Could not answer" in content and "OPENAI_BASE_URL" in content and "Traceback" not in content
    assert enabled is False and session["last"] is None and session["history"] == []
    status, _, _, _ = chat.rate(1, "", session)
    assert "Ask a question first" in status
    assert chat.feedback.count() == 0


# ------------------------------------------------------------------------------------------------
# The real page in a real browser


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FeedbackStore, FakeAssistant]]:
    with gradio_env():
        from assistant.web.ui import build_ui

        tmp = tmp_path_factory.mktemp("webchat")
        store = FeedbackStore(tmp / "feedback.sqlite3")
        assistant = FakeAssistant(delay_s=1.0)  # slow enough that streaming shows partial text
        settings = Settings(index_dir=tmp / "index", feedback_db=store.path)
        with launch_blocks(build_ui(assistant, store, settings)) as url:
            yield url, store, assistant


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_webchat_in_chromium(served: tuple[str, FeedbackStore, FakeAssistant]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    url, store, assistant = served
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        requests = record_requests(page, websockets=True)
        page.goto(url, wait_until="load")
        sync_api.expect(page.get_by_text("Hetao Policy Assistant").first).to_be_visible()
        sync_api.expect(page.get_by_text("official texts prevail")).to_be_visible()
        sync_api.expect(page.get_by_role("button", name="Which land border crossings does the zone have?")
                        ).to_be_visible()

        box = page.locator("#hp-question textarea")
        box.fill("河套合作区总面积有多大？")
        box.press("Enter")
        chat = page.locator("#hp-chat")
        sync_api.expect(chat.get_by_text("河套合作区总面积有多大？")).to_be_visible()
        # The fake streams three characters per 100 ms: the answer is seen partial before it is whole.
        sync_api.expect(chat.locator(".hp-cursor")).to_be_visible(timeout=10_000)
        footnote = chat.locator("details.hp-cite").first
        sync_api.expect(footnote).to_be_visible(timeout=20_000)
        sync_api.expect(chat.locator(".hp-cursor")).to_have_count(0)
        sync_api.expect(chat).to_contain_text("摘录：河套深港科技创新合作区总面积约3.89平方公里。")
        sync_api.expect(chat.locator("sup.hp-ref")).to_contain_text("[1]")
        sync_api.expect(chat).to_contain_text("摘录 · extractive")

        quote = footnote.locator("blockquote.hp-quote")
        sync_api.expect(quote).to_be_hidden()  # closed until the reader opens it
        sync_api.expect(footnote.locator("summary")).to_contain_text("国发〔2023〕12号")
        footnote.locator("summary").click()
        sync_api.expect(quote).to_be_visible()
        sync_api.expect(quote).to_have_text("河套深港科技创新合作区总面积约3.89平方公里。")

        assert store.count() == 0
        page.locator("#hp-reason textarea").fill("引用准确 accurate")
        up = page.locator("#hp-up")
        sync_api.expect(up).to_be_enabled()
        up.click()
        sync_api.expect(page.locator("#hp-feedback-status")).to_contain_text("saved", timeout=10_000)
        sync_api.expect(up).to_be_disabled()
        deadline = time.monotonic() + 5
        while store.count() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        (row,) = store.recent(5)
        assert row["rating"] == 1 and row["reason"] == "引用准确 accurate"
        assert row["question"] == "河套合作区总面积有多大？"
        assert row["answer"] == "摘录：河套深港科技创新合作区总面积约3.89平方公里。[1]"
        assert row["citations"][0]["doc_no"] == "国发〔2023〕12号"
        assert assistant.questions == ["河套合作区总面积有多大？"]

        (REPO / "artifacts").mkdir(exist_ok=True)
        page.screenshot(path=str(REPO / "artifacts" / "webchat.png"), full_page=True)

        # An example question asks at once, as a second turn; feedback opens again for the new answer.
        example = "Which land border crossings does the zone have?"
        page.get_by_role("button", name=example).click()
        sync_api.expect(chat.locator("details.hp-cite")).to_have_count(2, timeout=20_000)
        sync_api.expect(up).to_be_enabled()
        sync_api.expect(page.locator("#hp-feedback-status")).not_to_contain_text("saved")
        assert assistant.questions == ["河套合作区总面积有多大？", example]

    assert requests, "no requests recorded"
    outside = beyond_loopback(requests)
    assert outside == [], f"the page made requests beyond loopback: {outside}"
