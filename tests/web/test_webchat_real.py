"""The web chat with the REAL assistant (bundled embedder, tiny index, extractive) in headless Chromium.

tests/test_ui_browser.py drives the page with FakeAssistant; this one checks that a real answer, with its
real citation offsets and front-matter metadata, gets through gradio to the reader: the footnote opens to
the exact source sentence. Keeps artifacts/webchat-real.png.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import (
    REPO,
    TINY_SOURCES,
    beyond_loopback,
    chromium,
    gradio_env,
    launch_blocks,
    make_tiny_settings,
    record_requests,
)

from assistant.knowledge.ingest import load_document
from assistant.web.feedback import FeedbackStore
from assistant.wiring import build_assistant, build_indexer

QUESTION = "河套合作区总面积有多大？"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("webchat-real")
    settings = make_tiny_settings(tmp)
    build_indexer(settings).build()
    assistant = build_assistant(settings)
    assert assistant.mode == "extractive"
    with gradio_env():
        from assistant.web.ui import build_ui

        with launch_blocks(build_ui(assistant, FeedbackStore(settings.feedback_db), settings)) as url:
            yield url


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_real_answer_and_its_quote_in_chromium(served: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    body = load_document(TINY_SOURCES / "plan-excerpt.md", TINY_SOURCES).text
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        requests = record_requests(page)
        page.goto(served, wait_until="load")
        box = page.locator("#hp-question textarea")
        expect(box).to_be_visible(timeout=20_000)
        box.fill(QUESTION)
        box.press("Enter")

        chat = page.locator("#hp-chat")
        footnote = chat.locator("details.hp-cite").first
        expect(footnote).to_be_visible(timeout=30_000)  # the answer is complete
        expect(chat).to_contain_text("摘录式回答")
        expect(chat).to_contain_text("3.89平方公里")
        expect(chat.locator("a.hp-ref").first).to_have_text("[1]")
        expect(chat).to_contain_text("摘录 · extractive")
        summary = footnote.locator("summary").first
        expect(summary).to_contain_text("[1]")
        expect(summary).to_contain_text("国发〔2023〕12号")  # doc_no from the front matter
        expect(summary).not_to_contain_text(".md")  # the policy's name, not the file's

        quote = footnote.locator("blockquote.hp-quote")
        expect(quote).to_be_hidden()  # closed until the reader opens it
        chat.locator("a.hp-ref").first.click()  # the marker in the text opens its footnote
        expect(quote).to_be_visible()
        expect(quote).to_contain_text("3.89")
        shown = quote.inner_text().strip()
        assert "3.89平方公里" in shown and shown in body  # the source's own words, not a paraphrase

        (REPO / "artifacts").mkdir(exist_ok=True)
        page.screenshot(path=str(REPO / "artifacts" / "webchat-real.png"), full_page=True)

    outside = beyond_loopback(requests)
    assert requests and outside == [], f"the page made requests beyond loopback: {outside}"
