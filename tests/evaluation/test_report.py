"""The evaluation report's content (fast, no browser): failures first, expectations beside the answer, per-question
latency and first-evidence rank, no token cost for a run without a model, filters for every question."""

from __future__ import annotations

import json
import re
from pathlib import Path

from assistant.evaluation.evaluate import load_results, run_eval
from assistant.evaluation.report import render_markdown, write_report
from assistant.testing import FakeAssistant

ROWS = [
    {"id": "ok1", "question": "河套合作区总面积有多大？", "lang": "zh-Hans", "answerable": True, "category": "numeric",
     "facts": [["3.89"]], "evidence": ["总面积约3.89平方公里"], "split": "tune"},
    {"id": "bad1", "question": "深圳园区面积多大？", "lang": "zh-Hans", "answerable": True, "category": "numeric",
     "facts": [["3.02", "三点零二"], ["平方公里"]], "evidence": ["3.02平方公里"], "split": "check"},
    {"id": "bad2", "question": "写一首诗", "lang": "en", "answerable": True, "category": "off-topic",
     "facts": [["poem"]], "evidence": ["不存在的证据"], "split": "check"},
]


def _report(tmp_path: Path) -> tuple[str, str]:
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    summary = run_eval(FakeAssistant(), qfile, tmp_path / "run", progress=False)
    paths = write_report(tmp_path / "run", summary, load_results(tmp_path / "run"))
    return paths["html"].read_text(encoding="utf-8"), paths["markdown"].read_text(encoding="utf-8")


def test_failures_come_first_with_why_they_failed(tmp_path: Path) -> None:
    html, md = _report(tmp_path)
    ids = re.findall(r"<details class='q (passed|failed)'[^>]*>.*?<span>([^<]+)</span>", html)
    assert [i for _, i in ids] == ["bad1", "bad2", "ok1"] and [k for k, _ in ids] == ["failed", "failed", "passed"]
    assert "2 of 3 questions fail" in html
    bad1 = html[html.index("<span>bad1</span>"):html.index("<span>bad2</span>")]
    # the expected facts beside the answer, each marked: 3.02 missing (the fake answers 3.89), 平方公里 found
    assert "<span class=missing>3.02</span> / <span class=missing>三点零二</span>" in bad1
    assert "<span class=found>平方公里</span>" in bad1
    assert "<span class=missing>3.02平方公里</span> <span class=na>(not found)</span>" in bad1
    assert "facts" in bad1[:bad1.index("</summary>")]  # the failing check named in the collapsed row
    ok1 = html[html.index("<span>ok1</span>"):]
    assert "rank 1" in ok1 and " ms</span></summary>" in ok1  # first evidence rank and latency per question
    assert md.index("## Failing questions (2 of 3)") < md.index("## Headline")
    assert "`bad1` (zh-Hans, numeric) fails fact_coverage" in md


def test_filters_and_no_cost_without_a_model(tmp_path: Path) -> None:
    html, md = _report(tmp_path)
    for name, values in (("outcome", ["fail", "pass"]), ("lang", ["en", "zh-Hans"]),
                         ("category", ["numeric", "off-topic"]), ("split", ["check", "tune"])):
        select = html[html.index(f'<select name="{name}">'):]
        select = select[:select.index("</select>")]
        assert re.findall(r'<option value="([^"]+)">', select) == values
    assert 'data-split="check"' in html and 'data-outcome="fail"' in html
    assert "cost_usd" not in html and "completion_tokens" not in html  # an extractive run used no model
    assert "cost_usd" not in md and "recall_at_1" in html
    assert 'alt="first evidence rank chart"' in html and 'alt="R@1 and MRR by category chart"' in html


def test_markdown_without_records_still_renders(tmp_path: Path) -> None:
    qfile = tmp_path / "q.jsonl"
    qfile.write_text(json.dumps(ROWS[0], ensure_ascii=False) + "\n", encoding="utf-8")
    summary = run_eval(FakeAssistant(), qfile, tmp_path / "run", progress=False)
    assert "## Failing questions (0 of 0)" in render_markdown(summary)
