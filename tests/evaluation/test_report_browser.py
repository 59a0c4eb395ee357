"""The HTML evaluation report in real headless Chromium: it renders offline from one file, every chart image
decodes (natural width > 0), hostile text stays text, and a screenshot is kept as artifacts/eval-report.png."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import CHROMIUM, REPO, chromium, record_requests

from assistant.evaluation.evaluate import load_results, run_eval
from assistant.evaluation.report import write_report
from assistant.testing import FakeAssistant

ROWS = [
    {"id": "r1", "question": "河套合作区总面积有多大？", "lang": "zh-Hans", "answerable": True, "category": "数字",
     "facts": [["3.89"]], "evidence": ["总面积约3.89平方公里"]},
    {"id": "r2", "question": "合作區總面積有幾大？", "lang": "zh-Hant", "answerable": True, "category": "数字",
     "facts": [["3.89"]], "evidence": ["總面積約3.89平方公里"]},
    {"id": "r3", "question": "How large is the zone?", "lang": "en", "answerable": True, "category": "numeric",
     "facts": [["3.89"]], "evidence": ["3.89平方公里"]},
    {"id": "r4", "question": "有哪些口岸？", "lang": "zh-Hans", "answerable": True, "category": "列表",
     "facts": [["福田口岸"]], "evidence": ["福田口岸"]},
    {"id": "r5", "question": "写一首诗<img src=x onerror=\"document.title='pwned'\">", "lang": "zh-Hans",
     "answerable": False, "category": "off-topic", "facts": [], "evidence": []},
]


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")
def test_report_opens_in_chromium_with_decoded_charts(tmp_path: Path) -> None:
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("".join(json.dumps({**r, "split": "check" if i % 2 else "tune"}, ensure_ascii=False) + "\n"
                             for i, r in enumerate(ROWS)), encoding="utf-8")
    first = run_eval(FakeAssistant(), qfile, tmp_path / "run1", progress=False)
    write_report(tmp_path / "run1", first, load_results(tmp_path / "run1"))
    summary = run_eval(FakeAssistant(delay_s=0.01), qfile, tmp_path / "run2", progress=False)
    paths = write_report(tmp_path / "run2", summary, load_results(tmp_path / "run2"), previous=tmp_path / "run1")

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        requests = record_requests(page)
        page.goto(paths["html"].resolve().as_uri(), wait_until="load")
        images = page.evaluate("""() => Array.from(document.images).map(img => ({
            alt: img.alt, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight}))""")
        headings = page.locator("h2").all_inner_texts()
        rows = page.locator("#questions details.q")
        # failures first (r4: the fake's answer lacks 福田口岸), every row collapsed
        assert rows.first.get_attribute("data-outcome") == "fail"
        assert "r4" in rows.first.locator("summary").inner_text()
        assert rows.count() == len(ROWS) and page.locator("#questions details[open]").count() == 0
        hostile = page.locator("#questions").inner_text()
        title = page.title()
        # no horizontal scroll at 1280 px
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        # opening a failure shows the expected fact, marked missing, beside the answer
        rows.first.locator("summary").click()
        assert rows.first.locator(".missing", has_text="福田口岸").first.is_visible()
        assert rows.first.locator(".answer").is_visible()
        # the filters: outcome=pass hides the failure; language zh-Hant leaves one question
        page.select_option("select[name=outcome]", "pass")
        assert rows.first.is_hidden() and page.locator("#shown").inner_text() == str(len(ROWS) - 1)
        page.select_option("select[name=lang]", "zh-Hant")
        assert page.locator("#shown").inner_text() == "1"
        assert page.locator("#questions details.q:visible").first.get_attribute("data-lang") == "zh-Hant"
        page.select_option("select[name=split]", "tune")
        assert page.locator("#shown").inner_text() == "0"
        page.select_option("select[name=split]", "")
        page.select_option("select[name=lang]", "")
        page.select_option("select[name=outcome]", "")
        out = REPO / "artifacts"
        out.mkdir(exist_ok=True)
        page.screenshot(path=str(out / "eval-report.png"))

    assert [i["alt"] for i in images] == ["first evidence rank chart", "latency histogram",
                                          "R@1 and MRR by language chart", "R@1 and MRR by category chart"]
    assert all(i["complete"] and i["width"] > 0 and i["height"] > 0 for i in images), images
    assert headings[:3] == ["Headline", "Compared with " + str(tmp_path / "run1"), "By language"]
    assert title == "Evaluation report"  # the onerror payload stayed text and never ran
    assert "<img src=x onerror=" in hostile
    assert all(u.startswith(("file://", "data:")) for u in requests), requests  # nothing leaves the file
    assert (REPO / "artifacts" / "eval-report.png").stat().st_size > 10_000
