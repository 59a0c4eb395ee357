"""The embeddable widget in a real browser (Chromium via playwright), against the API on a real uvicorn.

A "park site" page is served by a plain http.server on one loopback port and embeds the widget from the
API on another port, as a real site would. A second http.server on a third port plays a site that is not
in ``allowed_origins``. Screenshots go to artifacts/ (git-ignored).

Run: .venv/bin/pytest tests/test_widget_browser.py
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page
from support import CHROMIUM, REPO, chromium, free_port, record_requests, serve_app

from assistant.config import Settings
from assistant.data import Answer, Citation, Delta, Filters, Message, Passage, StreamEvent
from assistant.errors import InputError
from assistant.testing import FAKE_CHUNK, FAKE_SUGGESTIONS, FakeAssistant
from assistant.web.api import create_app
from assistant.web.feedback import FeedbackStore

ARTIFACTS = REPO / "artifacts"
XSS = '<img src=x onerror="window.__xss=1">'
BROKE_OFF, BROKEN_TEXT = "中断", "模型写到一半，"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")]

PAGE = """<!doctype html>
<html lang="zh-Hans"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>河套深港科技创新合作区</title>
<style>
body {{ margin: 0; font-family: 'Noto Serif CJK SC', serif; background: #f4f1ea; color: #222; }}
header {{ background: #17324d; color: #fff; padding: 18px 32px; font-size: 22px; }}
nav a {{ color: #cfe3f5; margin-right: 18px; font-size: 15px; }}
main {{ max-width: 760px; padding: 24px 32px; line-height: 1.8; }}
{extra_css}
</style></head>
<body>
<header>河套深港科技创新合作区 · 深圳园区
<nav><a href="#">首页</a><a href="#">政策</a><a href="#">服务</a></nav></header>
<main><h1>政策与服务</h1>
<p>河套深港科技创新合作区位于深圳市福田区南部，与香港特别行政区北部接壤，是粤港澳大湾区国际科技创新中心的重要组成部分。</p>
<p>本页面用于演示政策助手小组件：点击右下角的按钮即可提问，回答会标注出处。</p>
<button class="page-button">页面自己的按钮</button></main>
<script src="{api}/widget.js" data-lang="zh-Hans" data-title="河套政策助手" data-accent="#0b6e4f"
  data-position="right" data-welcome="您好！请问有什么可以帮您？"
  data-examples="合作区面积多大？|深圳园区在哪里？"></script>
</body></html>
"""

# What a careless (or hostile) host stylesheet does; none of it may break the widget.
HOSTILE_CSS = """
* { color: red !important; font-size: 30px !important; display: block !important; border: 3px dashed red !important;
    position: static !important; line-height: 3 !important; }
div, button, textarea, park-assistant-widget { display: none !important; visibility: hidden !important; }
main button.page-button { display: inline-block !important; visibility: visible !important; }
"""


class EchoingAssistant(FakeAssistant):
    """FakeAssistant that puts markup-looking questions into its answer and quote (to test text-only rendering),
    and answers questions with "口岸" with a quoted list and two citations of one document; refuses questions with
    "fail" in a message that repeats them, and streams a broken-off model text before the answer to those with
    "中断"."""

    def _answer(self, question: str, history: Sequence[Message]) -> Answer:
        if "口岸" in question:
            self.questions.append(question)
            return two_citations(len(self.questions))
        answer = super()._answer(question, history)
        if "<" not in question:
            return answer
        c = FAKE_CHUNK
        cite = Citation(n=1, chunk_id=c.id, source=c.source, title=f"标题{question}", section=c.section_path,
                        quote=f"引文{question}", start=0, end=22, doc_no=str(c.meta["doc_no"]))
        return Answer(question=question, text=f"您问的是：{question}[1]", citations=(cite,),
                      passages=(Passage(chunk=c, score=1.0),))

    def stream(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None,
               filters: Filters | None = None) -> Iterator[StreamEvent]:
        if "fail" in question:  # refused with a message that repeats the question, markup and all
            raise InputError(f"Cannot answer {question}")
        events = super().stream(question, history, lang=lang, filters=filters)
        if BROKE_OFF in question:  # the model broke off mid-answer: the quoted answer replacing it streams after
            yield next(events)
            yield Delta(BROKEN_TEXT)
        yield from events


def two_citations(count: int) -> Answer:
    c = FAKE_CHUNK
    quote = "- 口岸：\n  - 福田口岸。\n  - 皇岗口岸。"
    first = Citation(n=1, chunk_id=c.id, source=c.source, title="规划要点摘编", section="三、总体布局 › 2.",
                     quote=quote, start=0, end=20, doc_no="国发〔2023〕12号")
    second = Citation(n=2, chunk_id=c.id, source=c.source, title="规划要点摘编", section="〇、文件概况 › 1.",
                      quote="总面积约3.89平方公里。", start=30, end=42, doc_no="国发〔2023〕12号",
                      url="https://www.gov.cn/zhengce/content/202308/content_6900741.htm")
    text = f"第{count}问：\n- 口岸： - 福田口岸。 - 皇岗口岸。[1]\n- 总面积约3.89平方公里。[2]"
    return Answer(question="口岸", text=text, citations=(first, second), passages=(Passage(chunk=c, score=1.0),))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the test output stays readable
        pass


def static_site(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    port = free_port()
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Park site (allowed), other site (not allowed), and the API; the assistant streams slowly enough to see."""
    root = tmp_path_factory.mktemp("site")
    park, park_url = static_site(root)
    other, other_url = static_site(root)
    assistant = EchoingAssistant(delay_s=1.5)  # ~0.15 s per delta, ~1.5 s per answer
    store = FeedbackStore(root.parent / "feedback.sqlite3")
    app = create_app(assistant, Settings(allowed_origins=(park_url,), rate_limit_per_minute=1000), store)
    api, api_thread, api_url = serve_app(app)
    (root / "index.html").write_text(PAGE.format(api=api_url, extra_css=""), encoding="utf-8")
    for lang in ("en", "zh-Hant"):
        page = PAGE.format(api=api_url, extra_css="").replace('data-lang="zh-Hans" data-title="河套政策助手"',
                                                               f'data-lang="{lang}" data-position="left"')
        (root / f"{lang}.html").write_text(page, encoding="utf-8")
    base = PAGE.format(api=api_url, extra_css="")
    (root / "off.html").write_text(base.replace('data-lang="zh-Hans"', 'data-lang="zh-Hans" data-persist="off"'),
                                   encoding="utf-8")
    (root / "light.html").write_text(base.replace('data-lang="zh-Hans"', 'data-lang="zh-Hans" data-theme="light"'),
                                     encoding="utf-8")
    (root / "hostile.html").write_text(PAGE.format(api=api_url, extra_css=HOSTILE_CSS), encoding="utf-8")
    yield {"park": park_url, "other": other_url, "api": api_url, "assistant": assistant, "feedback": store}
    api.should_exit = True
    api_thread.join(10)
    for s in (park, other):
        s.shutdown()
        s.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    pg = context.new_page()
    pg.requests = record_requests(pg)  # type: ignore[attr-defined]
    yield pg
    context.close()


W = "park-assistant-widget"  # playwright's CSS engine pierces open shadow roots


def ask(page: Page, question: str) -> None:
    page.locator(f"{W} textarea").fill(question)
    page.locator(f"{W} textarea").press("Enter")


def last_bot(page: Page) -> Any:
    return page.locator(f"{W} .msg.bot").last


def test_ask_streams_answer_and_citation_opens_its_quote(page: Page, sites: dict[str, Any]) -> None:
    page.goto(f"{sites['park']}/index.html")
    launcher = page.locator(f"{W} .launcher")
    assert launcher.get_attribute("aria-label") == "打开政策助手"
    launcher.click()
    panel = page.locator(f"{W} .panel")
    assert panel.is_visible() and launcher.get_attribute("aria-expanded") == "true"
    assert page.locator(f"{W} h2").inner_text() == "河套政策助手"
    assert page.evaluate(f"document.querySelector('{W}').shadowRoot.activeElement.tagName") == "TEXTAREA"

    ask(page, "合作区面积多大？")
    # streamed: part of the text is shown before the answer is complete (no citation buttons yet)
    page.wait_for_function(f"""() => {{
        const b = [...document.querySelector('{W}').shadowRoot.querySelectorAll('.msg.bot')].pop();
        return b.textContent.includes('河套') && !b.textContent.includes('公里') && !b.querySelector('.cite'); }}""")
    cite = last_bot(page).locator(".cite")
    cite.wait_for(timeout=10_000)
    assert "河套深港科技创新合作区总面积约3.89平方公里。" in last_bot(page).inner_text()
    assert cite.inner_text() == "1" and cite.get_attribute("aria-expanded") == "false"
    cite.click()
    quote = last_bot(page).locator(".quote")
    assert quote.locator("blockquote").inner_text() == FAKE_CHUNK.text
    meta = quote.locator(".meta").first.inner_text()
    assert "规划要点摘编" in meta and "国发〔2023〕12号" in meta and "〇、文件概况" in meta
    assert cite.get_attribute("aria-expanded") == "true"
    cite.click()
    assert quote.count() == 0  # the second click folds it away
    # the widget talked to nothing but the park page and the API
    assert {u.split("/")[2] for u in page.requests} <= {  # type: ignore[attr-defined]
        sites["park"].split("/")[2], sites["api"].split("/")[2]}


def test_example_question_and_follow_up_history(page: Page, sites: dict[str, Any]) -> None:
    page.goto(f"{sites['park']}/index.html")
    page.locator(f"{W} .launcher").click()
    page.locator(f"{W} .examples button", has_text="深圳园区在哪里？").click()
    last_bot(page).locator(".cite").wait_for(timeout=10_000)
    assert sites["assistant"].questions[-1] == "深圳园区在哪里？"
    with page.expect_request(lambda r: r.url.endswith("/api/v1/ask/stream")) as req:
        ask(page, "那面积呢？")
    body = req.value.post_data_json
    assert body["question"] == "那面积呢？" and [m["role"] for m in body["history"]] == ["user", "assistant"]
    assert "[1]" in body["history"][1]["content"]  # markers kept in what goes back as history
    last_bot(page).locator(".cite").wait_for(timeout=10_000)
    before = sites["feedback"].count()
    with page.expect_response(lambda r: r.url.endswith("/api/v1/feedback")) as resp:
        last_bot(page).locator(".acts .up").click()
    assert resp.value.status == 201 and last_bot(page).locator(".fb").inner_text() == "感谢反馈！"
    row = sites["feedback"].recent(1)[0]
    assert sites["feedback"].count() == before + 1 and row["rating"] == 1 and row["question"] == "那面积呢？"
    assert row["citations"][0]["quote"] == FAKE_CHUNK.text and row["meta"]["origin"] == sites["park"]


@pytest.mark.parametrize(("lang", "label", "placeholder", "sources"), [
    ("en", "Open the policy assistant", "Ask a question…", "Sources"),
    ("zh-Hant", "開啟政策助手", "請輸入您的問題…", "出處"),
])
def test_ui_strings_follow_data_lang_and_position(page: Page, sites: dict[str, Any], lang: str, label: str,
                                                  placeholder: str, sources: str) -> None:
    page.goto(f"{sites['park']}/{lang}.html")
    launcher = page.locator(f"{W} .launcher")
    assert launcher.get_attribute("aria-label") == label
    box = launcher.bounding_box()
    assert box is not None and box["x"] == 20  # data-position="left"
    launcher.click()
    assert page.locator(f"{W} textarea").get_attribute("placeholder") == placeholder
    ask(page, "How large is the zone?")
    last_bot(page).locator(".cite").wait_for(timeout=10_000)
    notes = last_bot(page).locator(".sources")
    assert notes.get_attribute("aria-label") == sources
    # the policy's name and where in it, never a file name
    assert notes.inner_text().replace("\n", "") == "[1]国发〔2023〕12号 · 规划要点摘编 › 〇、文件概况"


def test_keyboard_open_escape_close_and_focus_return(page: Page, sites: dict[str, Any]) -> None:
    page.goto(f"{sites['park']}/index.html")
    launcher = page.locator(f"{W} .launcher")
    launcher.focus()
    page.keyboard.press("Enter")
    assert page.locator(f"{W} .panel").is_visible()
    page.keyboard.type("合作区面积多大？")
    page.keyboard.press("Enter")
    last_bot(page).locator(".cite").wait_for(timeout=10_000)
    page.keyboard.press("Escape")
    assert not page.locator(f"{W} .panel").is_visible()
    assert launcher.get_attribute("aria-expanded") == "false"
    assert page.evaluate(f"document.querySelector('{W}').shadowRoot.activeElement.className") == "launcher"


def test_disallowed_site_gets_refused_and_widget_says_so(page: Page, sites: dict[str, Any]) -> None:
    asked = len(sites["assistant"].questions)
    page.goto(f"{sites['other']}/index.html")  # same page, an origin not in allowed_origins
    page.locator(f"{W} .launcher").click()
    ask(page, "合作区面积多大？")
    error = page.locator(f"{W} .msg.bot.error")
    error.wait_for(timeout=10_000)
    assert error.get_attribute("role") == "alert"
    assert "无法连接到政策助手" in error.inner_text() and "未获授权" in error.inner_text()
    assert len(sites["assistant"].questions) == asked  # the assistant never saw the question
    r = httpx.post(f"{sites['api']}/api/v1/ask/stream", json={"question": "合作区面积多大？"},
                   headers={"Origin": sites["other"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"


def test_hostile_page_css_does_not_break_the_widget(page: Page, sites: dict[str, Any]) -> None:
    page.goto(f"{sites['park']}/hostile.html")
    launcher = page.locator(f"{W} .launcher")
    box = launcher.bounding_box()
    assert box is not None and box["width"] == 56 and box["height"] == 56
    assert box["x"] + box["width"] == pytest.approx(1280 - 20, abs=1)  # still fixed bottom-right
    launcher.click()
    ask(page, "合作区面积多大？")
    last_bot(page).locator(".cite").wait_for(timeout=10_000)
    styles = page.evaluate(f"""() => {{
        const b = [...document.querySelector('{W}').shadowRoot.querySelectorAll('.msg.bot')].pop();
        const s = getComputedStyle(b); return [s.color, s.fontSize, s.display]; }}""")
    assert styles == ["rgb(31, 41, 51)", "15px", "block"]
    # and ours does not leak out: the page's own button keeps the page's (hostile) style
    assert page.evaluate("getComputedStyle(document.querySelector('.page-button')).color") == "rgb(255, 0, 0)"


def test_markup_in_question_and_answer_is_shown_as_text(page: Page, sites: dict[str, Any]) -> None:
    page.goto(f"{sites['park']}/index.html")
    page.locator(f"{W} .launcher").click()
    ask(page, XSS)
    cite = last_bot(page).locator(".cite")
    cite.wait_for(timeout=10_000)
    cite.click()
    assert page.locator(f"{W} .msg.user").last.inner_text() == XSS
    assert f"您问的是：{XSS}" in last_bot(page).inner_text()
    assert last_bot(page).locator("blockquote").inner_text() == f"引文{XSS}"
    assert page.evaluate(f"document.querySelector('{W}').shadowRoot.querySelectorAll('img').length") == 0
    assert page.evaluate("window.__xss") is None


def test_an_error_that_repeats_markup_is_shown_as_text(page: Page, sites: dict[str, Any]) -> None:
    """An English page shows the server's own message; one that repeats the question is text, never markup."""
    page.goto(f"{sites['park']}/en.html")
    page.locator(f"{W} .launcher").click()
    ask(page, f"fail {XSS}")
    error = page.locator(f"{W} .msg.bot.error")
    error.wait_for(timeout=10_000)
    assert error.inner_text() == f"Cannot answer fail {XSS}"
    assert page.evaluate(f"document.querySelector('{W}').shadowRoot.querySelectorAll('img').length") == 0
    assert page.evaluate("window.__xss") is None


def test_an_answer_that_replaces_what_was_streamed_is_shown_in_its_place(page: Page, sites: dict[str, Any]) -> None:
    """The final answer (``done``) is authoritative: when the model broke off and the quoted answer came instead, the
    broken-off text is not left in front of it."""
    page.goto(f"{sites['park']}/index.html")
    page.locator(f"{W} .launcher").click()
    ask(page, f"合作区面积多大？{BROKE_OFF}")
    last_bot(page).locator(".cite").wait_for(timeout=10_000)
    shown = last_bot(page).inner_text()
    assert "3.89平方公里" in shown and BROKEN_TEXT not in shown


def test_phone_screen_is_full_width(browser: Browser, sites: dict[str, Any]) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{sites['park']}/index.html")
        page.locator(f"{W} .launcher").click()
        box = page.locator(f"{W} .panel").bounding_box()
        assert box is not None and (box["x"], box["width"], box["height"]) == (0, 375, 812)
        ask(page, "合作区面积多大？")
        cite = last_bot(page).locator(".cite")
        cite.wait_for(timeout=10_000)
        cite.click()
        send = page.locator(f"{W} form button").bounding_box()
        assert send is not None and send["x"] + send["width"] <= 375  # nothing off-screen
        ask(page, "有哪些口岸？")  # a longer answer, a list and two footnotes
        last_bot(page).locator(".cite").nth(1).wait_for(timeout=10_000)
        last_bot(page).locator(".cite").nth(1).click()
        overflow = page.evaluate(f"""() => {{ const r = document.querySelector('{W}').shadowRoot;
            return [...r.querySelectorAll('.log, .log *')].filter(e => e.scrollWidth > e.clientWidth + 1
              && getComputedStyle(e).overflowX !== 'visible' || e.getBoundingClientRect().right > 375.5)
              .map(e => e.className || e.tagName); }}""")
        assert overflow == [] and page.evaluate("document.documentElement.scrollWidth") <= 375
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "widget-phone.png"))
    finally:
        context.close()


def test_desktop_screenshot(page: Page, sites: dict[str, Any]) -> None:
    page.goto(f"{sites['park']}/index.html")
    page.locator(f"{W} .launcher").click()
    ask(page, "合作区面积多大？")
    cite = last_bot(page).locator(".cite")
    cite.wait_for(timeout=10_000)
    cite.click()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-desktop.png"))
    assert (ARTIFACTS / "widget-desktop.png").stat().st_size > 10_000


def bots(page: Page) -> Any:
    return page.locator(f"{W} .msg.bot")  # the first one is the welcome


def test_footnotes_lists_copy_and_feedback_on_an_earlier_answer(browser: Browser, sites: dict[str, Any]) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN",
                                  permissions=["clipboard-read", "clipboard-write"])
    try:
        page = context.new_page()
        page.goto(f"{sites['park']}/index.html")
        page.locator(f"{W} .launcher").click()
        ask(page, "有哪些口岸？")
        first = bots(page).nth(1)
        first.locator(".acts").wait_for(timeout=10_000)
        assert first.locator(".text li li").count() == 2  # the quoted list keeps its nesting
        assert "- " not in first.locator(".text").inner_text()
        # [2] opens footnote 2 (and only it), with its link to the official text
        first.locator('.cite[data-n="2"]').click()
        note = first.locator(".sources li").nth(1)
        assert note.locator(".quote blockquote").inner_text() == "总面积约3.89平方公里。"
        assert note.locator(".quote a").get_attribute("href") == ("https://www.gov.cn/zhengce/content/202308/"
                                                                  "content_6900741.htm")
        assert first.locator(".sources li").nth(0).locator(".quote").count() == 0
        assert first.locator('.cite[data-n="2"]').get_attribute("aria-expanded") == "true"
        assert note.locator(".src-head").inner_text().replace("\n", "") == "[2]国发〔2023〕12号 · 〇、文件概况 › 1."

        ask(page, "合作区面积多大？")
        bots(page).nth(2).locator(".acts").wait_for(timeout=10_000)
        # copy puts the (first) answer and its sources on the clipboard, as plain text
        first.locator(".acts .copy").click()
        page.wait_for_function(f"document.querySelector('{W}').shadowRoot.querySelector('.acts .copy')"
                               ".textContent === '已复制'")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith("第") and "福田口岸" in copied and "[2] 国发〔2023〕12号 · 〇、文件概况 › 1." in copied
        # 👍 on the EARLIER answer stores that answer; 👎 on the later one with a reason
        store = sites["feedback"]
        before = store.count()
        with page.expect_response(lambda r: r.url.endswith("/api/v1/feedback")) as resp:
            first.locator(".acts .up").click()
        assert resp.value.status == 201
        row = store.recent(1)[0]
        assert store.count() == before + 1 and row["question"] == "有哪些口岸？" and row["rating"] == 1
        assert [c["n"] for c in row["citations"]] == [1, 2] and row["answer"].startswith("第")
        second = bots(page).nth(2)
        second.locator(".acts .down").click()
        second.locator(".fb input").fill("缺少香港园区")
        with page.expect_response(lambda r: r.url.endswith("/api/v1/feedback")):
            second.locator(".fb .send-reason").click()
        row = store.recent(1)[0]
        assert row["question"] == "合作区面积多大？" and row["rating"] == -1 and row["reason"] == "缺少香港园区"
    finally:
        context.close()


def test_conversation_survives_reload_and_page_change(page: Page, sites: dict[str, Any]) -> None:
    page.goto(f"{sites['park']}/index.html")
    page.locator(f"{W} .launcher").click()
    ask(page, "合作区面积多大？")
    last_bot(page).locator(".acts").wait_for(timeout=10_000)
    page.reload()
    # the panel is open again, with the conversation; the next question carries it as history
    last_bot(page).locator(".cite").wait_for(timeout=5_000)
    assert page.locator(f"{W} .panel").is_visible() and page.locator(f"{W} .msg.user").count() == 1
    page.goto(f"{sites['park']}/index.html?page=policies")  # another page of the park site
    last_bot(page).locator(".cite").wait_for(timeout=5_000)
    with page.expect_request(lambda r: r.url.endswith("/api/v1/ask/stream")) as req:
        ask(page, "那深圳园区呢？")
    assert req.value.post_data_json["history"][0]["content"] == "合作区面积多大？"
    last_bot(page).locator(".acts").wait_for(timeout=10_000)
    # the 👍 given before a reload is remembered
    last_bot(page).locator(".acts .up").click()
    page.reload()
    assert last_bot(page).locator(".fb").inner_text() == "感谢反馈！"
    # "new chat" forgets it, here and after a reload
    page.locator(f"{W} .head .new").click()
    assert page.locator(f"{W} .msg.user").count() == 0 and bots(page).count() == 1
    page.reload()
    assert page.locator(f"{W} .msg.user").count() == 0
    # data-persist="off": nothing is kept
    page.goto(f"{sites['park']}/off.html")
    page.locator(f"{W} .launcher").click()
    ask(page, "合作区面积多大？")
    last_bot(page).locator(".acts").wait_for(timeout=10_000)
    page.reload()
    assert page.locator(f"{W} .msg.user").count() == 0


def test_regenerate_and_stop(page: Page, sites: dict[str, Any]) -> None:
    page.goto(f"{sites['park']}/index.html")
    page.locator(f"{W} .launcher").click()
    ask(page, "有哪些口岸？")
    last_bot(page).locator(".acts .again").wait_for(timeout=10_000)
    asked = len(sites["assistant"].questions)
    last_bot(page).locator(".acts .again").click()
    page.wait_for_function(f"""() => [...document.querySelector('{W}').shadowRoot.querySelectorAll('.msg.bot')]
        .pop().textContent.startsWith('第{asked + 1}问')""", timeout=10_000)
    last_bot(page).locator(".acts").wait_for(timeout=10_000)
    assert sites["assistant"].questions[-1] == "有哪些口岸？" and len(sites["assistant"].questions) == asked + 1
    assert page.locator(f"{W} .msg.user").count() == 1 and bots(page).count() == 2  # replaced, not added
    # stop while streaming: the part shown stays, marked; the send button is back
    ask(page, "合作区面积多大？")
    page.wait_for_function(f"""() => [...document.querySelector('{W}').shadowRoot.querySelectorAll('.msg.bot')]
        .pop().textContent.includes('河套')""")
    stop = page.locator(f"{W} form button")
    assert stop.inner_text() == "停止"
    stop.click()
    last_bot(page).locator(".note", has_text="已停止").wait_for(timeout=5_000)
    assert stop.inner_text() == "发送" and last_bot(page).locator(".cite").count() == 0
    assert page.locator(f"{W} .acts .again").count() == 1  # a stopped answer can be asked again


def test_a_decline_offers_follow_ups_that_ask_themselves(page: Page, sites: dict[str, Any]) -> None:
    page.goto(f"{sites['park']}/index.html")
    page.locator(f"{W} .launcher").click()
    ask(page, "写一首诗")
    chip = last_bot(page).locator(".suggest button", has_text=FAKE_SUGGESTIONS[0])
    chip.wait_for(timeout=10_000)
    chip.click()
    last_bot(page).locator(".cite").wait_for(timeout=10_000)
    assert sites["assistant"].questions[-2:] == ["写一首诗", FAKE_SUGGESTIONS[0]]
    body = httpx.post(f"{sites['api']}/api/v1/ask", json={"question": "写一首诗"}).json()
    assert body["suggestions"] == list(FAKE_SUGGESTIONS) and body["answerable"] is False


def test_dark_mode_follows_the_system_or_the_page(browser: Browser, sites: dict[str, Any]) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="dark")
    try:
        page = context.new_page()
        page.goto(f"{sites['park']}/index.html")
        page.locator(f"{W} .launcher").click()
        panel_bg = f"getComputedStyle(document.querySelector('{W}').shadowRoot.querySelector('.panel')).backgroundColor"
        assert page.evaluate(panel_bg) == "rgb(27, 31, 35)"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "widget-dark.png"))
        page.goto(f"{sites['park']}/light.html")  # data-theme="light" wins over the system
        page.locator(f"{W} .launcher").click()
        assert page.evaluate(panel_bg) == "rgb(255, 255, 255)"
    finally:
        context.close()


def test_widget_js_answers_head_and_revalidates(sites: dict[str, Any]) -> None:
    url = f"{sites['api']}/widget.js"
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    etag = head.headers["etag"]
    assert etag.startswith('"') and "max-age" in head.headers["cache-control"]
    body = httpx.get(url)
    assert body.headers["etag"] == etag and int(head.headers["content-length"]) == len(body.content)
    assert "/*STRINGS*/" not in body.text and '"zh-Hant":{' in body.text and "開啟政策助手" in body.text
    again = httpx.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag


# --- the real thing: app.py's build_app (assistant + web chat + API) over a tiny real index -------------

TINY_DOC = """---
title: 河套合作区概况（测试）
issuer: 测试机关
doc_no: 测试〔2024〕1号
date: 2024-01-01
effective_from: 2024-01-01
expires: 2099-12-31
---

# 河套合作区概况（测试）

## 一、区位与面积

河套深港科技创新合作区总面积约3.89平方公里，其中深圳园区约3.02平方公里，香港园区约0.87平方公里。

## 二、发展目标

到2035年，与香港协同发展的国际一流科技创新合作区基本建成。
"""


@pytest.fixture(scope="module")
def real_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A tiny index built with the real indexer and embedder, served by app.build_app on uvicorn."""
    import importlib.util

    from assistant.wiring import build_indexer

    tmp = tmp_path_factory.mktemp("real")
    (tmp / "src").mkdir()
    (tmp / "src" / "tiny.md").write_text(TINY_DOC, encoding="utf-8")
    site_root = tmp / "site"
    site_root.mkdir()
    park, park_url = static_site(site_root)
    settings = Settings(index_dir=tmp / "idx", sources_dir=tmp / "src", mode="extractive", embed_threads=1,
                        allowed_origins=(park_url,), feedback_db=tmp / "feedback.sqlite3")
    assert build_indexer(settings).build().chunks >= 1
    spec = importlib.util.spec_from_file_location("park_app", REPO / "app.py")
    assert spec is not None and spec.loader is not None
    app_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app_module)
    server, thread, api_url = serve_app(app_module.build_app(settings))
    (site_root / "index.html").write_text(PAGE.format(api=api_url, extra_css=""), encoding="utf-8")
    yield {"park": park_url, "api": api_url}
    server.should_exit = True
    thread.join(10)
    park.shutdown()
    park.server_close()


def test_real_assistant_answers_with_a_checkable_citation(page: Page, real_site: dict[str, str]) -> None:
    assert httpx.get(f"{real_site['api']}/readyz").json()["ready"] is True
    assert "gradio" in httpx.get(f"{real_site['api']}/").text.lower()  # the web chat is mounted at /
    page.goto(f"{real_site['park']}/index.html")
    page.locator(f"{W} .launcher").click()
    ask(page, "合作区总面积多大？")
    cite = last_bot(page).locator(".cite").first
    cite.wait_for(timeout=30_000)
    assert "3.89平方公里" in last_bot(page).inner_text()
    cite.click()
    quote = last_bot(page).locator(".quote")
    assert "3.89平方公里" in quote.locator("blockquote").inner_text()
    assert "测试〔2024〕1号" in quote.inner_text() and "一、区位与面积" in quote.inner_text()
    assert "效力：现行有效（自2024-01-01起，至2099-12-31）" in quote.inner_text()  # the policy's lifecycle
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-desktop-real.png"))
    # the quote is really in the source the API serves for that citation
    answer = httpx.post(f"{real_site['api']}/api/v1/ask", json={"question": "合作区总面积多大？"}).json()
    c = answer["citations"][0]
    source = httpx.get(f"{real_site['api']}/api/v1/sources/{c['id']}").json()
    assert c["verified"] is True and c["quote"] in source["text"]
