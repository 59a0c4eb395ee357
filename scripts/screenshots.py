"""Retake the README screenshots from the real server over the shipped index, in headless Chromium.

    .venv/bin/python scripts/screenshots.py              # docs/webchat.png, webchat-phone.png, widget.png,
                                                         # widget-phone.png (needs a built index)
    .venv/bin/python scripts/screenshots.py --report eval-out/dev   # + docs/eval-report.png from that run

The server (web chat, API, widget) runs in this process on a free loopback port; a second one serves a
plain "park site" page that embeds the widget, as the park's website would.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from support import chromium, free_port, serve_app  # noqa: E402

DOCS = REPO / "docs"
PARK_PAGE = """<!doctype html><html lang="zh-Hans"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>河套深港科技创新合作区</title>
<style>body{{margin:0;font-family:'Noto Serif CJK SC',serif;background:#f4f1ea;color:#222}}
header{{background:#17324d;color:#fff;padding:18px 32px;font-size:22px}}nav a{{color:#cfe3f5;margin-right:18px;
font-size:15px}}main{{max-width:760px;padding:24px 32px;line-height:1.8}}</style></head><body>
<header>河套深港科技创新合作区 · 深圳园区<nav><a href="#">首页</a><a href="#">政策</a><a href="#">服务</a></nav>
</header>
<main><h1>政策与服务</h1><p>河套深港科技创新合作区位于深圳市福田区南部，与香港特别行政区北部接壤。</p>
<p>点击右下角的按钮即可向政策助手提问，回答会标注出处。</p></main>
<script src="{api}/widget.js" data-lang="zh-Hans" data-title="河套政策助手" data-accent="#0b6e4f"
  data-examples="合作区面积多大？|深圳园区由哪两个片区组成？"></script></body></html>"""


def _site(root: Path) -> str:
    port = free_port()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}"


def _ask_webchat(page: object, question: str, turn: int) -> None:
    page.locator("#hp-question textarea").fill(question)  # type: ignore[attr-defined]
    page.locator("#hp-question textarea").press("Enter")  # type: ignore[attr-defined]
    page.locator(f"#hp-copy-{turn}").wait_for(timeout=60_000)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, help="an eval --out folder whose report.html to photograph")
    args = parser.parse_args()

    from assistant.config import Settings
    from assistant.web.server import build_app
    from assistant.wiring import live_assistant

    with tempfile.TemporaryDirectory() as tmp:
        site_root = Path(tmp)
        site = _site(site_root)
        settings = Settings.from_env(allowed_origins=(site,), feedback_db=site_root / "fb.sqlite3")
        server, thread, api = serve_app(build_app(settings, live_assistant(settings)))
        (site_root / "index.html").write_text(PARK_PAGE.format(api=api), encoding="utf-8")
        with chromium() as browser:
            desktop = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page = desktop.new_page()
            page.goto(api + "/", wait_until="load")
            _ask_webchat(page, "深圳园区有哪些个人所得税优惠政策？", 1)
            page.locator('#hp-ans-1 a.hp-ref[href="#hp-fn-1-3"]').click()
            page.wait_for_timeout(800)
            page.screenshot(path=str(DOCS / "webchat.png"))
            desktop.close()

            phone = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2,
                                        is_mobile=True, has_touch=True, locale="zh-CN")
            page = phone.new_page()
            page.goto(api + "/", wait_until="load")
            _ask_webchat(page, "河套合作区有哪些跨境陆路口岸？", 1)
            page.screenshot(path=str(DOCS / "webchat-phone.png"))

            page = phone.new_page()
            page.goto(site + "/index.html", wait_until="load")
            page.locator("park-assistant-widget .launcher").click()
            page.locator("park-assistant-widget textarea").fill("深圳园区由哪两个片区组成？")
            page.locator("park-assistant-widget textarea").press("Enter")
            page.locator("park-assistant-widget .msg.bot .acts").last.wait_for(timeout=60_000)
            page.locator("park-assistant-widget .msg.bot .cite").last.click()
            page.screenshot(path=str(DOCS / "widget-phone.png"))
            phone.close()

            desktop = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
            page = desktop.new_page()
            page.goto(site + "/index.html", wait_until="load")
            page.locator("park-assistant-widget .launcher").click()
            page.locator("park-assistant-widget textarea").fill("深圳园区有哪些个人所得税优惠政策？")
            page.locator("park-assistant-widget textarea").press("Enter")
            page.locator("park-assistant-widget .msg.bot .acts").last.wait_for(timeout=60_000)
            page.locator("park-assistant-widget .msg.bot .cite").first.click()
            page.screenshot(path=str(DOCS / "widget.png"))

            if args.report:
                page.set_viewport_size({"width": 1280, "height": 1500})
                page.goto((args.report / "report.html").resolve().as_uri(), wait_until="load")
                page.locator("details.q").first.locator("summary").click()
                page.screenshot(path=str(DOCS / "eval-report.png"))
            desktop.close()
        server.should_exit = True
        thread.join(10)
    print("wrote", ", ".join(p.name for p in sorted(DOCS.glob("*.png"))))


if __name__ == "__main__":
    main()
