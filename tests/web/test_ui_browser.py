"""The web chat in real headless Chromium (gradio on a free loopback port, a fake assistant with two citations).

One conversation walks through what a reader does: streamed answer, ``[2]`` opens footnote 2, copy puts the
answer on the clipboard, 👍 on the EARLIER answer stores that answer, regenerate, reload keeps the
conversation, "new chat" forgets it; then a 375 px phone (no horizontal scroll, no jump past the header) and
the OS dark mode. Every request the page makes must stay on loopback. Keeps artifacts/webchat*.png.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import pytest
from support import CHROMIUM, REPO, beyond_loopback, chromium, gradio_env, launch_blocks, record_requests

from assistant.config import Settings
from assistant.data import Answer, Citation, Message, Passage
from assistant.testing import FAKE_CHUNK, FAKE_SUGGESTIONS, FakeAssistant
from assistant.web.feedback import FeedbackStore
from assistant.web.questions import QuestionLog

ARTIFACTS = REPO / "artifacts"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")]


class TwoSourceAssistant(FakeAssistant):
    """Answers with two cited sentences of the same document (two footnotes to tell apart)."""

    def _answer(self, question: str, history: Sequence[Message]) -> Answer:
        if "诗" in question:
            return super()._answer(question, history)  # a decline, with suggested follow-ups
        self.questions.append(question)
        c = FAKE_CHUNK
        quote = "- 总面积：约3.89平方公里。\n- 组成：\n  - 深圳园区3.02平方公里。\n  - 香港园区0.87平方公里。"
        first = Citation(n=1, chunk_id=c.id, source=c.source, title=str(c.meta["title"]), section="〇、文件概况 › 1.",
                         quote=quote,
                         start=0, end=10, doc_no="国发〔2023〕12号", issuer="国务院")
        second = Citation(n=2, chunk_id=c.id, source=c.source, title=str(c.meta["title"]), section="三、总体布局 › 2.",
                          quote="福田口岸和皇岗口岸两个跨境陆路口岸。", start=20, end=38, doc_no="国发〔2023〕12号",
                          url="https://www.gov.cn/zhengce/content/202308/content_6900741.htm")
        text = (f"摘录（第{len(self.questions)}次）：\n"
                "- 总面积：约3.89平方公里。 - 组成： - 深圳园区3.02平方公里。 - 香港园区0.87平方公里。[1]\n"
                "- 福田口岸和皇岗口岸两个跨境陆路口岸。[2]")
        return Answer(question=question, text=text, citations=(first, second),
                      passages=(Passage(chunk=c, score=1.0),), mode="extractive")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FeedbackStore, TwoSourceAssistant]]:
    with gradio_env():
        from assistant.web.ui import build_ui

        tmp = tmp_path_factory.mktemp("webchat")
        store = FeedbackStore(tmp / "feedback.sqlite3")
        assistant = TwoSourceAssistant(delay_s=1.0)  # slow enough that streaming shows partial text
        settings = Settings(index_dir=tmp / "index", feedback_db=store.path)
        with launch_blocks(build_ui(assistant, store, settings, QuestionLog(store.path))) as url:
            yield url, store, assistant


def _wait_rows(store: FeedbackStore, n: int) -> None:
    deadline = time.monotonic() + 10
    while store.count() < n and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.timeout(240)
def test_webchat_in_chromium(served: tuple[str, FeedbackStore, TwoSourceAssistant]) -> None:
    from playwright.sync_api import expect

    url, store, assistant = served
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US",
                                      permissions=["clipboard-read", "clipboard-write"])
        page = context.new_page()
        requests = record_requests(page, websockets=True)
        page.goto(url, wait_until="load")
        expect(page.get_by_text("Hetao Policy Assistant").first).to_be_visible()
        expect(page.get_by_text("official texts prevail")).to_be_visible()
        chat = page.locator("#hp-chat")
        example = "Which land border crossings does the zone have?"
        expect(chat.get_by_text(example)).to_be_visible()  # examples sit in the empty chat, by the input
        expect(page.locator("#hp-question textarea")).to_be_focused()  # desktop: ready to type

        box = page.locator("#hp-question textarea")
        box.fill("河套合作区总面积有多大？")
        box.press("Enter")
        expect(chat.get_by_text("河套合作区总面积有多大？")).to_be_visible()
        expect(chat.locator(".hp-cursor")).to_be_visible(timeout=10_000)  # partial text while streaming
        expect(page.locator("#hp-stop")).to_be_visible()
        expect(chat.locator("#hp-fn-1-2")).to_be_attached(timeout=30_000)
        expect(chat.locator(".hp-cursor")).to_have_count(0)
        expect(page.locator("#hp-stop")).to_be_hidden()

        # the quoted list keeps its nesting; no "- " left in the text
        first = chat.locator("#hp-ans-1")
        expect(first.locator(".hp-text li li")).to_have_count(2)
        assert "- " not in first.locator(".hp-text").inner_text()

        # a second question, by clicking an example… there are none once the chat has started: type it
        box.fill("有哪些口岸？")
        box.press("Enter")
        expect(chat.locator("#hp-fn-2-2")).to_be_attached(timeout=30_000)
        # both questions are kept for the editors' content gaps, as the API keeps its own
        asked = [(r["question"], r["channel"]) for r in QuestionLog(store.path).rows()]
        assert asked == [("有哪些口岸？", "webchat"), ("河套合作区总面积有多大？", "webchat")]

        # [2] of the first answer opens footnote 2 of the first answer (closed until then)
        note = chat.locator("#hp-fn-1-2")
        expect(note.locator("blockquote.hp-quote")).to_be_hidden()
        expect(note.locator("summary")).to_contain_text("国发〔2023〕12号 · 三、总体布局 › 2.")
        expect(note.locator("summary")).not_to_contain_text(".md")
        first.locator('a.hp-ref[href="#hp-fn-1-2"]').click()
        expect(note.locator("blockquote.hp-quote")).to_be_visible()
        expect(note.locator("blockquote.hp-quote")).to_have_text("福田口岸和皇岗口岸两个跨境陆路口岸。")
        expect(note.locator("a.hp-link")).to_have_attribute("href", "https://www.gov.cn/zhengce/content/202308/"
                                                            "content_6900741.htm")
        expect(chat.locator("#hp-fn-1-1 blockquote.hp-quote")).to_be_hidden()

        # copy puts the answer text (and its sources) on the clipboard
        first.locator("button.hp-copy").click()
        expect(first.locator("button.hp-copy")).to_contain_text("Copied")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith("摘录（第1次）：") and "深圳园区3.02平方公里。" in copied
        assert "[2] 国发〔2023〕12号 · 三、总体布局 › 2." in copied and "<" not in copied

        # 👍 on the EARLIER answer stores that answer, with the reason typed before
        assert store.count() == 0
        page.locator("#hp-reason textarea").fill("引用准确 accurate")
        chat.get_by_label("Like", exact=True).first.click()
        expect(page.locator("#hp-feedback-status")).to_contain_text("saved", timeout=10_000)
        _wait_rows(store, 1)
        (row,) = store.recent(5)
        assert row["rating"] == 1 and row["reason"] == "引用准确 accurate"
        assert row["question"] == "河套合作区总面积有多大？" and row["answer"].startswith("摘录（第1次）")
        assert [c["n"] for c in row["citations"]] == [1, 2]

        # regenerate the last answer: the question is asked again, the old answer replaced
        chat.get_by_label("Retry").click()
        expect(chat.get_by_text("摘录（第3次）")).to_be_visible(timeout=30_000)
        expect(chat.get_by_text("摘录（第2次）")).to_have_count(0)
        expect(page.locator("#hp-stop")).to_be_hidden()  # the answer is complete (and stored in the browser)
        assert assistant.questions == ["河套合作区总面积有多大？", "有哪些口岸？", "有哪些口岸？"]

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "webchat.png"))

        # a reload keeps the conversation, and its footnotes still open
        page.reload(wait_until="load")
        expect(chat.get_by_text("摘录（第3次）")).to_be_visible(timeout=15_000)
        expect(chat.locator("details.hp-cite")).to_have_count(4)
        chat.locator('#hp-ans-1 a.hp-ref[href="#hp-fn-1-1"]').click()
        expect(chat.locator("#hp-fn-1-1 blockquote.hp-quote")).to_be_visible()
        # …and the next question still carries the history
        box.fill("第三个问题")
        box.press("Enter")
        expect(chat.get_by_text("摘录（第4次）")).to_be_visible(timeout=30_000)

        # stop ends an answer while it streams: no footnotes come, the send button is back
        box.fill("停止测试")
        box.press("Enter")
        expect(chat.locator(".hp-cursor")).to_be_visible(timeout=10_000)
        page.locator("#hp-stop").click()
        expect(page.locator("#hp-send")).to_be_visible(timeout=15_000)
        page.wait_for_timeout(4_000)  # the whole answer would have arrived by now
        expect(chat.locator("#hp-fn-5-1")).to_have_count(0)

        # one "new chat" control (the chatbot's own trash icon is hidden); it forgets the conversation
        expect(chat.get_by_label("Clear", exact=True)).to_be_hidden()
        page.locator("#hp-new").click()
        expect(chat.locator("details.hp-cite")).to_have_count(0)
        page.reload(wait_until="load")
        expect(chat.get_by_text(example)).to_be_visible(timeout=15_000)
        expect(chat.locator("details.hp-cite")).to_have_count(0)
        context.close()

        # a phone: no horizontal scroll, the header stays in view (no autofocus jump), examples near the input
        phone = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True,
                                    device_scale_factor=2, locale="zh-CN")
        mobile = phone.new_page()
        requests += record_requests(mobile, websockets=True)
        mobile.goto(url, wait_until="load")
        m_chat = mobile.locator("#hp-chat")
        expect(m_chat.get_by_text(example)).to_be_visible(timeout=15_000)
        mobile.locator("#hp-question textarea").fill("河套合作区总面积有多大？")
        mobile.locator("#hp-question textarea").press("Enter")
        expect(m_chat.locator("#hp-fn-1-2")).to_be_attached(timeout=30_000)
        expect(m_chat.get_by_label("清空对话")).to_be_hidden()  # gradio's trash icon, whatever its language
        mobile.evaluate("document.activeElement && document.activeElement.blur()")
        widths = mobile.evaluate("[document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth]")
        assert widths[0] <= widths[2] and widths[1] <= widths[2], widths
        box_rect = mobile.locator("#hp-question textarea").bounding_box()
        chat_rect = m_chat.bounding_box()
        assert box_rect and chat_rect and box_rect["width"] >= 200  # a full-width input
        assert chat_rect["height"] >= 0.55 * 812  # the chat fills the screen
        mobile.screenshot(path=str(ARTIFACTS / "webchat-phone.png"))
        # a decline offers follow-ups the sources answer; a tap asks one
        mobile.locator("#hp-question textarea").fill("写一首诗")
        mobile.locator("#hp-question textarea").press("Enter")
        follow_up = m_chat.locator("button.hp-suggestion", has_text=FAKE_SUGGESTIONS[0])
        expect(follow_up).to_be_visible(timeout=30_000)
        follow_up.click()
        expect(m_chat.locator("#hp-ans-3 .hp-text")).to_contain_text("摘录", timeout=30_000)
        assert assistant.questions[-2:] == ["写一首诗", FAKE_SUGGESTIONS[0]]
        phone.close()

        # the OS dark mode switches the page to gradio's dark theme
        dark = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
        dpage = dark.new_page()
        dpage.goto(url, wait_until="load")
        expect(dpage.locator("#hp-chat")).to_be_visible(timeout=15_000)
        background = dpage.evaluate("getComputedStyle(document.querySelector('.gradio-container')).backgroundColor")
        assert dpage.evaluate("document.body.classList.contains('dark')"), background
        dark.close()

    outside = beyond_loopback(requests)
    assert requests and outside == [], f"the page made requests beyond loopback: {outside}"
