"""The English lead line of a quoted answer: the figure or date asked for, or what the quotes are."""

from __future__ import annotations

import pytest
from support import REPO

from assistant.answering.backstop import leaves_out
from assistant.answering.lead import asked_for, english_lead
from assistant.answering.vocabulary import Glossary

ENGLISH = {"平方公里": "square kilometres"}.get


@pytest.mark.parametrize(("question", "quotes", "lead"), [
    ("How large is the zone?", ["合作区共约3.89平方公里。"],
     "In short: about 3.89 square kilometres (约3.89平方公里) [1]."),
    # 万 and 亿 are magnitudes: the English says the number they make, never "500 10,000 yuan" or "500万元".
    ("How much can a project get?", ["每个项目资助最高500万元。"],
     "In short: up to 5 million yuan (最高500万元) [1]."),
    ("How many researchers are there?", ["科研人员1.5万人。"], "In short: 15,000 people (1.5万人) [1]."),
    ("How big is the building?", ["总建筑面积约68.97万平方米。"],
     "In short: about 689,700 square metres (约68.97万平方米) [1]."),
    ("How large is the fund?", ["基金规模10亿元。"], "In short: 1 billion yuan (10亿元) [1]."),
    ("How many measures does the plan have?", ["规划共提出30项措施。"], "In short: 30 (30项) [1]."),
    # A figure that reads the same in English is not repeated in brackets.
    ("What's the corporate income tax rate?", ["企业所得税减按15%征收。"], "In short: 15% [1]."),
    ("What tax rate do companies in the park pay?", ["企业所得税减按15%征收。"], "In short: 15% [1]."),
    # A document's number, with its issuer's prefix, is named as the sources write it.
    ("What is the file number of the customs notice?", ["文号与日期：署贸函〔2024〕236号，2024年9月30日。"],
     "In short: 署贸函〔2024〕236号 [1]."),
    # A year is a point in time, not an amount: never "2035 years"; a span of years still is one.
    ("How many companies are there?", ["到2035年形成全面发展格局，已有60多家企业。"],
     "In short: over 60 (60多家) [1]."),
    ("How many researchers?", ["科研人员1.5万多人。"], "In short: over 15,000 people (1.5万多人) [1]."),
    ("How long is the endorsement valid?", ["可申请3年多次往返港澳的人才签注。"], "In short: 3 years (3年) [1]."),
    ("When was the outline published?", ["2024年11月20日公布。"], "In short: 20 November 2024 [1]."),
    ("Which year is the target?", ["到2035年建成。"], "In short: 2035 [1]."),
    ("When does it apply?", ["自2023年8月起施行。"], "In short: August 2023 [1]."),
])
def test_figure_and_date_questions_name_what_the_best_quote_says(question: str, quotes: list[str], lead: str) -> None:
    assert english_lead(question, quotes, ENGLISH) == lead


def test_the_figure_of_what_was_asked_about_comes_first() -> None:
    # One quote, several counts: the question's own terms (its glossary expansion) pick the clause.
    quote = ["园区有世界500强研发中心8家、高端科研项目200多个、科技企业400多家、科研人员1.5万多人。"]
    assert english_lead("How many researchers work there?", quote, ENGLISH, terms=("科研人员",)) == \
        "In short: over 15,000 people (1.5万多人) [1]."
    assert english_lead("How many researchers work there?", quote, ENGLISH).startswith("In short: 8 (8家)")
    # Several clauses name a term: the one naming most of them (longer terms count more) is the answer.
    areas = ["面积：合作区共约3.89平方公里。其中深圳园区3.02平方公里；香港园区0.87平方公里。"]
    size = ("面积", "平方公里")
    assert english_lead("How big is the Hong Kong Park?", areas, ENGLISH, terms=("香港园区", *size)) == \
        "In short: 0.87 square kilometres (0.87平方公里) [1]."
    assert english_lead("How big is the zone?", areas, ENGLISH, terms=("合作区", *size)) == \
        "In short: about 3.89 square kilometres (约3.89平方公里) [1]."


def test_list_and_other_questions_and_nothing_to_name() -> None:
    two = ["福田口岸。", "皇岗口岸。"]
    assert english_lead("Which ports are there?", two, ENGLISH, is_list=True) == (
        "In short: the sources list 2 points, quoted below.")
    assert english_lead("Who issued it?", two, ENGLISH).startswith("In short: the passages quoted below")
    assert english_lead("How large is it?", ["没有数字。"], ENGLISH).startswith("In short: the passages")
    assert english_lead("How large is it?", [], ENGLISH) is None


def test_what_the_question_asks_for_is_the_lead_lines_items() -> None:
    assert asked_for("When was the outline published?", "2024年11月20日公布。", ENGLISH) == (
        "date", ["20 November 2024"])
    assert asked_for("How much can a project get?", "每个项目资助最高500万元。", ENGLISH) == (
        "figure", ["up to 5 million yuan (最高500万元)"])
    assert asked_for("Who issued it?", "国务院2023年8月印发。", ENGLISH) is None  # neither a date nor an amount
    assert asked_for("How large is it?", "没有数字。", ENGLISH) is None


AREA = "面积：合作区共约3.89平方公里。其中深圳园区3.02平方公里。"
AREA_ITEM = ["about 3.89 square kilometres (约3.89平方公里)"]
FUND = "每个项目资助最高500万元。"
FUND_ITEM = ["up to 5 million yuan (最高500万元)"]
OPENED = "香港科学园深圳分园于2023年9月7日开园。"


@pytest.mark.parametrize(("answer", "items", "quote", "left_out"), [
    ("It covers 3.89 square kilometres [1].", AREA_ITEM, AREA, False),
    ("It covers 3.89 km² [1].", AREA_ITEM, AREA, False),
    ("The zone is not large [1].", AREA_ITEM, AREA, True),
    ("It covers 3 square kilometres [1].", AREA_ITEM, AREA, True),  # 3 is no figure of the quote
    # A figure of the quote is the answer's choice from it: the Shenzhen Park's area is not the zone's.
    ("The Shenzhen Park covers 3.02 square kilometres [1].", AREA_ITEM, AREA, False),
    ("A project gets up to 5 million yuan.", FUND_ITEM, FUND, False),
    ("A project gets up to 500万元.", FUND_ITEM, FUND, True),  # the source's way: 万 is no English magnitude
    ("It opened on 2023年9月7日 [1].", ["7 September 2023"], OPENED, True),
    ("A project gets up to 5 yuan.", FUND_ITEM, FUND, True),  # not 5 million
    ("A project gets funding [1].", FUND_ITEM, FUND, True),
    ("There are 1,500 people.", ["about 1500 people (约1500人)"], "约1500人完成备案", False),
    ("It opened on September 7, 2023 [1].", ["7 September 2023"], OPENED, False),
    ("Yes, it is open already [1].", ["7 September 2023"], OPENED, True),
    ("It opened in 2023 [1].", ["7 September 2023"], OPENED, False),  # the quote's year: a choice, not left out
    ("The rate is 15 [1].", ["15% (15%)"], "税率15%", True),  # a percentage is stated with its sign
])
def test_an_english_answer_leaves_out_the_items_when_it_gives_none_of_them_nor_a_figure_of_the_quote(
        answer: str, items: list[str], quote: str, left_out: bool) -> None:
    assert leaves_out(answer, items, quote) is left_out


def test_glossary_names_a_chinese_term_in_english_by_its_fullest_phrase() -> None:
    glossary = Glossary.load(REPO / "index" / "glossary.tsv")
    assert glossary.english("平方公里") in ("square kilometres", "square kilometers")
    assert glossary.english("深圳园区") == "shenzhen park"
    assert glossary.english("没有这个词") is None


def test_a_validity_question_is_led_by_the_period_from_the_quote_stating_it() -> None:
    quotes = ["对境外高端人才和紧缺人才继续按税负差额给予补贴。",
              "文号与日期：财税〔2023〕34号，2023年8月18日，执行至2027年12月31日。"]
    lead = english_lead("Until when does the subsidy run?", quotes, {}.get)
    assert lead == "In short: until 31 December 2027 [2]."  # the second quote states it, not the issue date
    assert "until" not in (english_lead("When was the subsidy notice issued?", quotes[1:], {}.get) or "")
