"""What the sources say they could not read (未读到 / 截断) is not an answer: a question for that very detail is
declined, with the sources' own line quoted and cited, while a question the same line does answer is answered.
The corpus is the tiny one (tests/data/sources), indexed with the fake embedder."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import REPO, make_tiny_index

from assistant.answering.assistant import Assistant
from assistant.answering.evidence import marks_gap
from assistant.answering.unread import UnreadDetails
from assistant.config import Settings
from assistant.testing import FakeEmbedder
from assistant.wiring import build_assistant

LINE = "5. 香港科学园深圳分园：由香港科技园公司管理，位于福田保税区“一号通道”附近，具体门牌未读到。"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_tiny_index(tmp_path_factory.mktemp("gaps"))


@pytest.fixture(scope="module")
def assistant(settings: Settings) -> Assistant:
    return build_assistant(settings, embedder=FakeEmbedder())


def test_the_gap_is_the_clause_that_names_what_is_asked() -> None:
    quote = "- 发文机关：某局。\n  " + LINE
    span = marks_gap(quote, {"分园": 2.0, "门牌": 2.0})
    assert span is not None and quote[span[0]:span[1]] == LINE  # the line that says so, whole
    assert marks_gap(quote, {"分园": 2.0, "管理": 2.0}) is None  # its other clauses answer who manages it
    # A caveat naming only a light word of the question is no gap: what is asked weighs most.
    caveat = "说明：规划这一部分的原文标题未核实。布局包括四个方面。"
    assert marks_gap(caveat, {"规划": 1.0, "布局": 3.0, "四方面": 3.0}) is None
    # Words the sources never use do not set the weight (牌号: the user's word, not theirs).
    assert marks_gap(LINE, {"门牌": 2.0, "牌号": 6.0}, known=lambda t: t != "牌号") is not None
    assert marks_gap("具体门牌未读到。", {}) is None


@pytest.mark.parametrize(("question", "lead"), [
    ("深圳分园的具体门牌号是多少？", "但注明所问的内容未读到："),
    ("What is the exact street number of the Shenzhen branch?", "say that what is asked could not be read"),
])
def test_a_question_for_what_the_sources_did_not_read_is_declined_with_their_line(assistant: Assistant,
                                                                                   question: str, lead: str) -> None:
    answer = assistant.answer(question)
    assert answer.mode == "decline" and not answer.answerable and answer.meta["missing_detail"] == "unread"
    assert lead in answer.text
    cited = [c for c in answer.citations if "具体门牌未读到" in c.quote]
    assert len(cited) == 1 and f"[{cited[0].n}]" in answer.text  # quoted and cited
    assert cited[0].quote.endswith("具体门牌未读到。")


def test_a_question_the_same_line_answers_is_answered(assistant: Assistant) -> None:
    answer = assistant.answer("深圳分园由谁管理？")
    assert answer.answerable and "香港科技园公司" in answer.text
    assert answer.meta.get("missing_detail") is None


PROCEDURE = "以及园区入驻申请的完整流程、表格和评审标准。这些内容在公开资料中均未读到"


@pytest.mark.parametrize("question", ["园区入驻申请具体要走什么流程？要交哪些表格？",
                                      "What is the step-by-step procedure to apply for a place in the park?"])
def test_a_question_for_a_detail_a_passage_says_was_not_read_is_declined_with_that_line(
        assistant: Assistant, question: str) -> None:
    """The line names the procedure asked for in one sentence, though not in the clause with 未读到: the
    question asks for a detail (index/unread_details.tsv) the passage on its topic says is missing."""
    answer = assistant.answer(question)
    assert answer.mode == "decline" and answer.meta["missing_detail"] == "unread"
    cited = [c for c in answer.citations if PROCEDURE in c.quote]
    assert len(cited) == 1 and f"[{cited[0].n}]" in answer.text


def test_without_the_details_file_only_the_best_quote_is_read_for_a_gap(settings: Settings) -> None:
    bare = build_assistant(settings, embedder=FakeEmbedder())
    bare.judge.unread = UnreadDetails()
    answer = bare.answer("园区入驻申请具体要走什么流程？要交哪些表格？")
    assert answer.meta.get("missing_detail") != "unread"


def test_the_details_file_is_checked_when_loaded(tmp_path: Path) -> None:
    assert UnreadDetails.load(tmp_path / "none.tsv") == UnreadDetails()
    path = tmp_path / "details.tsv"
    path.write_text("# comment\namount\t预算|多少钱\t额度|金额\n", encoding="utf-8")
    details = UnreadDetails.load(path)
    assert [d.name for d in details.asked("专项资金每年预算有多少？")] == ["amount"]
    assert details.asked("专项资金是什么？") == ()
    path.write_text("amount\t预算\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"details\.tsv:1"):
        UnreadDetails.load(path)
    path.write_text("# comment\namount\t预算(\t额度\n", encoding="utf-8")  # an unclosed group
    with pytest.raises(ValueError, match=r"details\.tsv:2: not a regular expression"):
        UnreadDetails.load(path)
    shipped = UnreadDetails.load(REPO / "index" / "unread_details.tsv")
    assert {d.name for d in shipped.details} == {"amount", "procedure", "condition", "provisions", "contents"}


@pytest.mark.parametrize(("question", "line", "declined"), [
    # what a rule's articles say, when its text was not read
    ("监管办法第十条具体写了啥？", "- 具体条文：未读到。", True),
    ("What do the articles of the customs rules say?", "- 具体条文：未读到。", True),
    ("监管办法什么时候实施？", "- 具体条文：未读到。", False),
    ("电子账册是怎么规定的？在第几条？", "- 具体条文：未读到。", True),
    ("政策包那28条具体都有哪些？", "- 条件与标准：具体条款、资助标准和申报流程未读到。", True),
    # "qualifying companies" names them; "do we qualify" asks the conditions
    ("What tax rate can qualifying companies pay?", "- 条件：适用产业目录、实质性运营要求等具体条件未读到。", False),
    ("Do we qualify for the 15% rate?", "- 条件：适用产业目录、实质性运营要求等具体条件未读到。", True),
    # what something contains, when its contents were not read
    ("这一定位具体包括哪些内容？", "3. 集聚区：页面在这一条处截断，具体内容未读到。", True),
    ("What does the third positioning include?", "3. 集聚区：页面在这一条处截断，具体内容未读到。", True),
    ("集聚区是三大定位之一吗？", "3. 集聚区：页面在这一条处截断，具体内容未读到。", False),
    # an amount asked with words between (补贴每个月有多少), a form (申请表), review criteria (评审标准)
    ("青年人才补贴每个月有多少？", "- 条件与标准：具体条款、资助标准和申报流程未读到。", True),
    ("入驻申请表在哪里拿？", "6. 未找到的信息：完整流程、表格和评审标准。这些内容均未读到。", True),
    ("评审标准是什么？", "6. 未找到的信息：完整流程、表格和评审标准。这些内容均未读到。", True),
    ("入驻园区有什么好处？", "6. 未找到的信息：完整流程、表格和评审标准。这些内容均未读到。", False),
])
def test_the_shipped_details_name_how_users_ask(question: str, line: str, declined: bool) -> None:
    details = UnreadDetails.load(REPO / "index" / "unread_details.tsv")
    assert (details.gap(question, line) is not None) is declined


@pytest.mark.parametrize(("question", "declined"), [
    ("第六条前三项之后还有什么条件？", True),  # the rest is what is asked: the line answers it
    ("除了香港居民身份和在园区工作，是否还要求一年待满183日的条件？", True),  # more than the stated ones
    ("What other conditions are there after the first three?", True),
    ("享受优惠要满足什么条件？", False),  # the conditions as a whole: the passage gives the first ones
    ("What conditions must I meet?", False),
])
def test_a_line_saying_the_rest_was_not_read_answers_only_a_question_for_the_rest(question: str,
                                                                                  declined: bool) -> None:
    details = UnreadDetails.load(REPO / "index" / "unread_details.tsv")
    text = "- 享受条件：1. 具有香港居民身份。2. 在园区工作。\n- 此后的条件和其余条款在页面中截断，未读到。"
    assert (details.gap(question, text) is not None) is declined
