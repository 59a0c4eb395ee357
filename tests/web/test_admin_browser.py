"""The editors' page (/admin) in real Chromium over a real server and a real index: token entered once (kept
in sessionStorage), lifecycle badges and filters, upload with progress → the new document listed, delete
with confirmation, the content-gap list and a CSV download. With ``PARK_SCREENSHOTS=1`` it refreshes the
screenshot README shows (docs/admin.png); otherwise it leaves the working tree alone.

Run: .venv/bin/pytest tests/web/test_admin_browser.py
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from support import CHROMIUM, REPO, chromium, make_tiny_settings, serve_app

from assistant.testing import FakeAssistant, FakeEmbedder
from assistant.web.admin import AdminTools
from assistant.web.api import create_app
from assistant.web.feedback import FeedbackStore
from assistant.web.jobs import IndexJobs
from assistant.web.questions import QuestionLog
from assistant.web.server import UVICORN_OPTIONS
from assistant.wiring import build_indexer

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")]
TOKEN = "browser-test-token-0123456789"
NEW_DOC = "---\ntitle: 河套合作区会议室预约办法\nissuer: 河套发展署\neffective_from: 2024-01-01\n---\n\n" \
          "# 河套合作区会议室预约办法\n\n第一条 园区企业可在线预约共享会议室。\n"


def _front_matter(path: Path, extra: str) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text("---\n" + extra + text[4:], encoding="utf-8")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = make_tiny_settings(tmp_path_factory.mktemp("admin-page"), admin_token=TOKEN,
                                  rate_limit_per_minute=10_000)
    _front_matter(settings.sources / "policy-excerpt.md", "expires: 2025-12-31\nscope: 深圳园区\n")
    _front_matter(settings.sources / "plan-excerpt.md", "effective_from: 2023-08-29\nscope: both\n")
    fake = FakeEmbedder()
    build_indexer(settings, fake).build()
    questions, feedback = QuestionLog(settings.feedback_db), FeedbackStore(settings.feedback_db)
    asked = (("河套的GDP是多少？", "zh-Hans"), ("河套的GDP是多少？", "zh-Hans"), ("河套嘅GDP係幾多？", "zh-Hant"))
    for q, lang in asked:
        questions.record(q, lang=lang, answerable=False, confidence=0.1, mode="extractive", build="b1")
    feedback.record("合作区面积多大？", "约3.89平方公里[1]", [{"n": 1, "title": "规划要点摘编"}], -1,
                    reason="没有说香港园区", lang="zh-Hans", mode="extractive", meta={"build": "b1", "confidence": 0.8})
    tools = AdminTools(IndexJobs(lambda progress: build_indexer(settings, fake).build(progress=progress)),
                       lambda texts: fake.embed(texts, "query"))
    app = create_app(FakeAssistant(), settings, feedback, questions, tools)
    server, thread, base = serve_app(app, **UVICORN_OPTIONS)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN", accept_downloads=True)
    yield context.new_page()
    context.close()


def _sign_in(page: Page, site: str, token: str = TOKEN) -> None:
    page.goto(site + "/admin")
    page.fill("#token", token)
    page.click("#enter")


def test_wrong_token_is_refused_and_the_right_one_kept_for_the_tab(page: Page, site: str) -> None:
    _sign_in(page, site, "wrong")
    expect(page.locator("#login-error")).to_contain_text("not accepted")
    _sign_in(page, site)
    expect(page.locator("#docs tbody tr")).to_have_count(2)
    page.reload()  # the token stays in sessionStorage: no second prompt
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#docs tbody tr")).to_have_count(2)


def test_badges_filters_upload_gaps_csv_and_delete(page: Page, site: str, tmp_path: Path) -> None:
    _sign_in(page, site)
    rows = page.locator("#docs tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator('tr[data-source="policy-excerpt.md"] .badge')).to_have_attribute("data-status", "expired")
    expect(page.locator('tr[data-source="plan-excerpt.md"] .badge')).to_have_attribute("data-status", "in_force")
    page.select_option("#f-status", "expired")
    expect(rows).to_have_count(1)
    page.select_option("#f-status", "")
    page.select_option("#f-scope", "香港园区")  # a park also shows documents for both
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-source", "plan-excerpt.md")
    page.select_option("#f-scope", "")

    new = tmp_path / "meeting-rooms.md"
    new.write_text(NEW_DOC, encoding="utf-8")
    page.set_input_files("#file", str(new))
    page.click("#upload")
    added = page.locator('tr[data-source="meeting-rooms.md"]')
    expect(added).to_have_count(1, timeout=60_000)
    expect(added.locator(".badge")).to_have_attribute("data-status", "in_force")
    expect(added).to_contain_text("河套发展署")
    expect(page.locator("#upload-status")).to_contain_text("done")

    gaps = page.locator("#gaps tbody tr")
    expect(gaps.first).to_contain_text("河套的GDP是多少？")
    expect(gaps.first.locator("td").first).to_have_text("2")
    expect(page.locator("#feedback tbody tr").first).to_contain_text("没有说香港园区")
    with page.expect_download() as info:
        page.click("#gaps-csv")
    csv_text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    assert csv_text.startswith("count,question") and "河套的GDP是多少？" in csv_text

    page.set_viewport_size({"width": 1360, "height": 900})
    shot = REPO / "docs" / "admin.png" if os.environ.get("PARK_SCREENSHOTS") == "1" else tmp_path / "admin.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    dialogs: list[Any] = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    added.locator("button.danger").click()
    assert dialogs and "meeting-rooms.md" in dialogs[0]
    expect(added).to_have_count(1)  # dismissed: still there
    page.once("dialog", lambda d: d.accept())
    added.locator("button.danger").click()
    expect(added).to_have_count(0, timeout=60_000)
    expect(rows).to_have_count(2)
