"""The web chat's eligibility checklist without a browser: statuses, quotes and sources, verdict, office, the
是/否 buttons' re-asked question (the server's one composition), labels from the asker's language, escaping."""

from __future__ import annotations

import re
from typing import Any

import pytest

from assistant.answering.eligibility.render import render_checklist as checklist_markdown
from assistant.answering.eligibility.render import with_fact
from assistant.data import Answer, ChecklistItem, Citation
from assistant.messages import text as message
from assistant.web.ui_checklist import render_checklist
from assistant.web.ui_render import render_answer

QUESTION = "我是香港居民，在园区公司上班，能享受个税优惠吗？"


def _citation(n: int, quote: str, **changes: Any) -> Citation:
    base: dict[str, Any] = {"n": n, "chunk_id": "c7", "source": "policies.md", "title": "政策清单",
                            "section": "二、税收 › P07 《个人所得税优惠政策》", "quote": quote, "start": 0,
                            "end": len(quote)}
    base.update(changes)
    return Citation(**base)


def _answer(lang: str = "zh-Hans", question: str = QUESTION, **changes: Any) -> Answer:
    items = (
        ChecklistItem("具有香港居民身份。", "met", _citation(1, "具有香港居民身份。"), "我是香港居民"),
        ChecklistItem("在园区注册的企业任职，并实际在园区工作。", "unknown",
                      _citation(2, "在园区注册的企业任职，并实际在园区工作。")),
        ChecklistItem(message("eligibility.missing", lang), "missing", _citation(3, "此后未读到。"), None, "missing"),
    )
    base: dict[str, Any] = {
        "question": question, "text": "摘录：具有香港居民身份。[1]", "lang": lang, "checklist": items,
        "verdict": "cannot_tell", "citations": (_citation(1, "具有香港居民身份。"),),
        "meta": {"office": _citation(9, "某区税务局。"), "conditions_complete": False,
                 "benefit": _citation(8, "优惠内容：高出香港税负的部分免征。")},
    }
    base.update(changes)
    return Answer(**base)


def _tags(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_each_condition_is_quoted_with_its_status_source_and_the_users_words() -> None:
    out = render_checklist(_answer(), turn=2)
    found = re.findall(r'<li class="hp-ci hp-ci-(\w+) hp-ci-by-(\w+)">(.*?)</li>', out)
    assert [(s, by) for s, by, _ in found] == [("met", "terms"), ("unknown", "terms"), ("missing", "terms")]
    items = [(s, body) for s, _, body in found]
    met = _tags(items[0][1])
    assert met.startswith(message("eligibility.status.met", "zh-Hans") + " “具有香港居民身份。”")
    assert "P07" in met and "“我是香港居民”" in met and message("eligibility.you_said", "zh-Hans") in met
    assert "“" not in _tags(items[2][1]).split("—")[0]  # the "sources stop here" row is not a quote
    # a condition the answer itself cites links to that footnote; one it does not cite has no link
    assert 'href="#hp-fn-2-1"' in items[0][1] and "hp-ref" not in items[1][1]


def test_verdict_office_and_official_texts_prevail() -> None:
    out = render_checklist(_answer(), turn=1)
    assert 'data-verdict="cannot_tell"' in out
    verdict = message("eligibility.verdict.cannot_tell", "zh-Hans")
    assert f'<div class="hp-verdict hp-verdict-cannot_tell">{verdict}</div>' in out
    assert "“某区税务局。”" in _tags(out.split('class="hp-office"')[1])
    benefit = _tags(out.split('class="hp-benefit">')[1].split("</div>")[0])
    assert benefit.startswith(message("eligibility.benefit", "zh-Hans") + " “优惠内容：高出香港税负的部分免征。”")
    assert message("eligibility.prevail", "zh-Hans") in out


def test_only_an_unknown_condition_has_yes_no_buttons_that_ask_again_with_the_fact() -> None:
    answer = _answer()
    out = render_checklist(answer, turn=1)
    buttons = re.findall(r'<button class="hp-fact" type="button">(.*?)<span class="hp-ask-q" hidden>(.*?)</span>'
                         r"</button>", out)
    unknown = answer.checklist[1]
    assert buttons == [("是", with_fact(QUESTION, unknown, True, "zh-Hans")),
                       ("否", with_fact(QUESTION, unknown, False, "zh-Hans"))]
    assert buttons[0][1] == ("我是香港居民，在园区公司上班，能享受个税优惠吗？"
                             "我已满足“在园区注册的企业任职、并实际在园区工作”")
    assert out.count("hp-fact") == 2  # the met and missing rows have none


@pytest.mark.parametrize("lang", ["en", "zh-Hant"])
def test_labels_come_from_the_askers_language(lang: str) -> None:
    out = render_checklist(_answer(lang, question="I live in Hong Kong. Can I get the tax relief?"), turn=1)
    for key in ("eligibility.title", "eligibility.status.met", "eligibility.status.unknown", "eligibility.yes",
                "eligibility.no", "eligibility.verdict.cannot_tell", "eligibility.office", "eligibility.benefit",
                "eligibility.prevail"):
        assert message(key, lang) in _tags(out), key
    assert message("eligibility.fact.yes", lang) in out
    if lang == "en":
        assert re.findall(r'<span class="hp-ci-st">(.*?)</span>', out) == ["met", "not said", "not in the sources"]
        assert re.findall(r'<button class="hp-fact" type="button">(\w+)<', out) == ["yes", "no"]


def test_document_and_user_text_is_escaped() -> None:
    evil = '<img src=x onerror="alert(1)">'
    answer = _answer(question=f"{evil}能享受吗？", checklist=(
        ChecklistItem(f"条件{evil}", "unknown", _citation(1, f"条件{evil}", title=evil)),))
    out = render_checklist(answer, turn=1)
    assert "<img" not in out and "onerror=\"" not in out and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in out


def test_the_answer_message_carries_the_checklist_and_a_checklist_only_answer_is_not_shown_twice() -> None:
    plain = render_answer(_answer(), turn=4)
    assert 'id="hp-check-4"' in plain and "摘录：具有香港居民身份。" in plain
    answer = _answer()
    only = _answer(text=checklist_markdown(answer))  # a decline turned into its checklist
    out = render_answer(only, turn=5)
    assert 'id="hp-check-5"' in out and '<div class="hp-text">' not in out and "[ ]" not in out
    none = render_answer(Answer(question="面积多大？", text="约3.89平方公里。"), turn=6)
    assert "hp-checklist" not in none and render_checklist(Answer(question="q", text="t")) == ""
