"""The eligibility checklist in the embeddable widget, in real Chromium, against the real assistant (a real
index over tests/data/eligibility, the fake embedder) on a real uvicorn: ticking an ``unknown`` condition asks
again with that fact and shows the updated verdict.

Run: .venv/bin/pytest tests/web/test_checklist_browser.py
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import CHROMIUM, REPO, chromium, free_port, make_tiny_settings, serve_app

from assistant.config import Settings
from assistant.messages import text as message
from assistant.testing import FakeEmbedder
from assistant.web.api import create_app
from assistant.wiring import build_assistant, build_indexer

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
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = make_tiny_settings(tmp_path_factory.mktemp("checklist"))
    shutil.rmtree(settings.index_dir / "sources")
    (settings.index_dir / "sources").mkdir()
    shutil.copy2(REPO / "tests" / "data" / "eligibility" / "policies.md", settings.index_dir / "sources")
    build_indexer(settings, FakeEmbedder()).build()
    assistant = build_assistant(settings, embedder=FakeEmbedder())
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
