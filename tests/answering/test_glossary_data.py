"""The shipped glossary (index/glossary.tsv) names the sources' frequent terms in English: an English question
reaches them, and its words are not counted as ones the sources' vocabulary cannot reach (which lowers the
answerability of English questions)."""

from __future__ import annotations

import pytest
from support import REPO

from assistant.answering.vocabulary import Colloquial, Glossary
from assistant.lang import to_simplified

SOURCES = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "index" / "sources").rglob("*.md"))


@pytest.fixture(scope="module")
def glossary() -> Glossary:
    return Glossary.load(REPO / "index" / "glossary.tsv")


@pytest.mark.parametrize(("english", "chinese"), [
    ("research", "科研"), ("innovation", "创新"), ("cooperation", "合作"), ("the Greater Bay Area", "大湾区"),
    ("Guangdong", "广东"), ("projects", "项目"), ("R&D", "研发"), ("infrastructure", "基础设施"),
    ("quantum", "量子"), ("artificial intelligence", "人工智能"), ("exceptions", "除外"), ("carried", "携带"),
    ("supervision", "监管"), ("clinical", "临床"), ("levied", "征收"), ("validity", "有效期"),
    ("bring in", "携带"), ("imported", "运入"), ("transport", "运输"), ("staff", "员工"),
    ("business endorsements", "商务备案"), ("the Shenzhen Data Exchange", "数据交易所"), ("launched", "揭牌"),
    ("the individual income tax incentive", "优惠"), ("which departments", "发文机关"),
    ("the implementation measures", "实施办法"), ("the same year", "同一年度"), ("at the same time", "同时"),
    ("drew up", "编制"), ("the Shenzhen River", "深圳河"), ("which river separates", "相望"),
    ("the stay in Hong Kong", "停留"), ("each time", "每次"), ("how many pages", "页"),
    ("the cross-river bridge", "跨河"), ("the bridge", "连接桥"), ("the negative list", "负面清单"),
    ("the green channel", "绿色通道"), ("faster border clearance", "快速"), ("academicians", "院士"),
    ("weekends", "周六日"), ("when it takes effect", "施行"), ("the wet lab tenants", "湿实验室"),
])
def test_a_frequent_source_term_has_an_english_name(glossary: Glossary, english: str, chinese: str) -> None:
    assert chinese in SOURCES
    assert chinese in glossary.expand(f"What about {english}?")


def test_a_plain_english_policy_question_is_covered_by_the_glossary(glossary: Glossary) -> None:
    question = "Are there any exceptions for research goods carried through Channel No. 1?"
    assert glossary.unmatched(question) < 0.2
    assert glossary.unmatched("What can research institutions bring in through Channel No. 1?") == 0.0
    assert glossary.unmatched("What is a good hiking trail?") == 1.0  # what the sources do not cover stays so


def test_a_popular_name_the_sources_give_reaches_the_policy_s_own_words(glossary: Glossary) -> None:
    assert "（报道称“港人港税”）" in SOURCES  # the sources' own alias
    assert {"香港居民", "个人所得税"} <= set(glossary.expand("港人港税的文号是什么？"))


@pytest.mark.parametrize("question", ["企业所得税的文件是哪年发的？", "合作安排是哪天签的？", "條例邊日生效？"])
def test_asking_which_year_or_day_reaches_the_records_date_field(glossary: Glossary, question: str) -> None:
    # The policy records say 文号与日期：…; 哪年 / 哪天 ask for it as 什么时候 does.
    text = Colloquial.load(REPO / "index" / "colloquial.tsv").rewrite(to_simplified(question))
    assert "日期" in glossary.expand(text) and "日期：" in SOURCES


@pytest.mark.parametrize(("english", "chinese"), [("Singapore", "新加坡"), ("students", "学生"), ("Hengqin", "横琴"),
                                                  ("the United States", "美国"), ("my dog", "宠物")])
def test_places_and_people_no_source_covers_are_named(glossary: Glossary, english: str, chinese: str) -> None:
    # Named so that they count as a topic the sources lack, not dropped as an unknown English word.
    assert chinese not in SOURCES and chinese in glossary.expand(f"What is the tax rate for {english}?")


def test_parking_is_named_as_what_no_source_covers(glossary: Glossary) -> None:
    # Named, so that the topic counts as one the sources lack; not read as 空间 (shared space) of "spaces".
    expansion = glossary.expand("How many parking spaces does the branch have?")
    assert "停车位" in expansion and "空间" not in expansion and "停车" not in SOURCES
    assert glossary.reaching(lambda t: t in SOURCES).unmatched("Is there parking?") == 1.0


@pytest.mark.parametrize("question", ["Can I work out my tax saving online?", "What about the first one?",
                                      "On which day and month?"])
def test_words_of_many_senses_are_not_read_as_one_term_of_the_sources(glossary: Glossary, question: str) -> None:
    # "work out", "the first one", "month": read as 工作, 首批 or 月 they pulled unrelated lines in on tune.
    assert not {"工作", "首批", "月"} & set(glossary.expand(question.lower()))


def test_every_glossary_entry_can_match_a_question() -> None:
    # Questions are read through the spoken forms first (index/colloquial.tsv: 几时 → 什么时候), so an entry
    # written with a spoken form (到几时) would never match.
    colloquial = Colloquial.load(REPO / "index" / "colloquial.tsv")
    keys = [line.split("\t")[0] for line in (REPO / "index" / "glossary.tsv").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    assert [k for k in keys if colloquial.rewrite(to_simplified(k)) != to_simplified(k)] == []
