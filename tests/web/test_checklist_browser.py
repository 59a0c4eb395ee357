"""The eligibility checklist in the embeddable widget and in the gradio web chat, in real Chromium, against the
real assistant (a real index over tests/data/eligibility, the fake embedder) on a real server: ticking an
``unknown`` condition asks again with that fact and shows the updated verdict.

Run: .venv/bin/pytest tests/web/test_checklist_browser.py
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import (
    CHROMIUM,
    ELIGIBILITY_DATA,
    chromium,
    free_port,
    gradio_env,
    launch_blocks,
    make_fake_index,
    serve_app,
)

from assistant.answering.assistant import Assistant
from assistant.config import Settings
from assistant.messages import text as message
from assistant.testing import FakeEmbedder
from assistant.web.api import create_app
from assistant.web.feedback import FeedbackStore
from assistant.wiring import build_assistant

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")]

PAGE = """<!doctype html><html lang="zh-Hans"><head><meta charset="utf-8"><title>园区</title></head>
<body><h1>政策与服务</h1><script src="{api}/widget.js" data-lang="zh-Hans" data-title="河套政策助手"></script>
</body></html>"""
QUESTION = "我是内地人才，受雇于合作区的科技企业，我能申请人才签注吗？"
W = "park-assistant-widget"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_fake_index(tmp_path_factory.mktemp("checklist"), ELIGIBILITY_DATA / "policies.md")


@pytest.fixture(scope="module")
def assistant(settings: Settings) -> Assistant:
    return build_assistant(settings, embedder=FakeEmbedder())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, assistant: Assistant) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("site")
    port = free_port()
    park = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                           functools.partial(QuietHandler, directory=str(root)))
    threading.Thread(target=park.serve_forever, daemon=True).start()
    park_url = f"http://127.0.0.1:{port}"
    app = create_app(assistant, Settings(allowed_origins=(park_url,), rate_limit_per_minute=1000), None)
    api, api_thread, api_url = serve_app(app)
    (root / "index.html").write_text(PAGE.format(api=api_url), encoding="utf-8")
    yield park_url
    api.should_exit = True
    api_thread.join(10)
    park.shutdown()
    park.server_close()


@pytest.mark.parametrize(("button", "verdict"), [("是", "likely"), ("否", "unlikely")])
def test_ticking_an_unknown_condition_asks_again_and_updates_the_verdict(site: str, button: str,
                                                                         verdict: str) -> None:
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{site}/index.html")
        page.locator(f"{W} .launcher").click()
        page.locator(f"{W} textarea").fill(QUESTION)
        page.locator(f"{W} textarea").press("Enter")
        first = page.locator(f"{W} .msg.bot .checklist").last
        first.wait_for(timeout=20_000)
        assert message("eligibility.verdict.need_more_info", "zh-Hans") in first.locator(".verdict").inner_text()
        unknown = first.locator("li.unknown")
        assert "人才签注" in unknown.inner_text()
        unknown.locator("button", has_text=button).click()
        page.locator(f"{W} .msg.bot .checklist").nth(1).wait_for(timeout=20_000)
        second = page.locator(f"{W} .msg.bot .checklist").nth(1)
        assert message(f"eligibility.verdict.{verdict}", "zh-Hans") in second.locator(".verdict").inner_text()
        asked = page.locator(f"{W} .msg.user").last.inner_text()
        assert asked.startswith(QUESTION) and ("我已满足" if button == "是" else "我未满足") in asked


def test_the_widget_checklist_says_what_the_policy_gives(site: str) -> None:
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{site}/index.html")
        page.locator(f"{W} .launcher").click()
        page.locator(f"{W} textarea").fill("我具有香港居民身份，在园区注册的企业任职，我能享受个人所得税优惠吗？")
        page.locator(f"{W} textarea").press("Enter")
        checklist = page.locator(f"{W} .msg.bot .checklist").last
        checklist.wait_for(timeout=20_000)
        benefit = checklist.locator(".note.benefit").inner_text()
        assert benefit.startswith(message("eligibility.benefit", "zh-Hans")) and "高出香港税负的部分免征" in benefit


@pytest.fixture(scope="module")
def webchat(settings: Settings, assistant: Assistant) -> Iterator[str]:
    with gradio_env():
        from assistant.web.ui import build_ui

        store = FeedbackStore(settings.feedback_db)
        with launch_blocks(build_ui(assistant, store, settings)) as url:
            yield url


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("button", "verdict"), [("是", "likely"), ("否", "unlikely")])
def test_web_chat_checklist_ticks_an_unknown_condition_and_updates_the_verdict(webchat: str, button: str,
                                                                                verdict: str) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        page = browser.new_page()
        page.goto(webchat, wait_until="load")
        box = page.locator("#hp-question textarea")
        box.fill(QUESTION)
        box.press("Enter")
        first = page.locator("#hp-check-1")
        first.wait_for(timeout=30_000)
        expect(first.locator(".hp-verdict")).to_have_text(message("eligibility.verdict.need_more_info", "zh-Hans"))
        expect(first).to_contain_text(message("eligibility.title", "zh-Hans"))
        expect(first.locator(".hp-office")).to_contain_text("国家移民管理局")  # the office, quoted
        unknown = first.locator("li.hp-ci-unknown")
        expect(unknown).to_have_count(1)
        expect(unknown.locator(".hp-ci-st")).to_have_text(message("eligibility.status.unknown", "zh-Hans"))
        expect(unknown.locator(".hp-ci-q")).to_contain_text("先由园区管理部门备案")  # the condition, quoted
        expect(unknown.locator(".hp-ci-src")).to_contain_text("P12")  # and where it comes from
        unknown.get_by_role("button", name=button, exact=True).click()
        second = page.locator("#hp-check-2")
        second.wait_for(timeout=30_000)
        expect(second.locator(".hp-verdict")).to_have_text(message(f"eligibility.verdict.{verdict}", "zh-Hans"))
        expect(second.locator("li.hp-ci-unknown")).to_have_count(0)
        expect(second.locator("li.hp-ci-met" if button == "是" else "li.hp-ci-unmet")).to_have_count(1)
        asked = page.locator("#hp-chat .hp-q").last.inner_text()
        assert asked.startswith(QUESTION) and ("我已满足" if button == "是" else "我未满足") in asked
