"""A notice and its implementing measures on the same subject are one policy: the checklist lists the notice's
audience (适用对象) with the measures' conditions (享受条件), each citing its own document, and is complete only
when both are. Also: whom a user says they are settles every condition naming someone else, and a key naming
what a policy covers (适用所得) lists alternatives. The corpus is tests/data/eligibility/companions.md, indexed
with the fake embedder."""

from __future__ import annotations

import pytest
from support import ELIGIBILITY_DATA, REPO, make_fake_index

from assistant.answering.assistant import Assistant
from assistant.answering.eligibility.conditions import subject
from assistant.answering.eligibility.cues import Cues
from assistant.testing import FakeEmbedder
from assistant.wiring import build_assistant


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    settings = make_fake_index(tmp_path_factory.mktemp("companions"), ELIGIBILITY_DATA / "companions.md")
    return build_assistant(settings, embedder=FakeEmbedder())


@pytest.fixture(scope="module")
def cues() -> Cues:
    loaded = Cues.load(REPO / "index" / "eligibility.tsv")
    assert loaded is not None
    return loaded


def test_a_policy_title_names_its_subject_without_issuer_and_kind_of_document(cues: Cues) -> None:
    notice = subject("P06 《财政部 税务总局关于河套深港科技创新合作区深圳园区个人所得税优惠政策的通知》", cues)
    measures = subject("P07 《河套深港科技创新合作区深圳园区个人所得税优惠政策实施办法》", cues)
    assert notice == measures == "河套深港科技创新合作区深圳园区个人所得税优惠政策"
    assert subject("P08 《财政部 税务总局关于粤港澳大湾区个人所得税优惠政策的通知》", cues) != notice
    plain = subject("P12 国家移民管理局支持合作区深圳园区要素跨境流动的措施", cues)  # no 《》: the label goes
    assert plain == "国家移民管理局支持合作区深圳园区要素跨境流动"


def test_the_notice_and_its_implementing_measures_are_listed_together(assistant: Assistant) -> None:
    answer = assistant.answer("我是香港居民，在测试园区工作，个人所得税优惠我能享受吗？")
    assert answer.verdict is not None
    by_policy = {i.condition: i.citation.passage_text for i in answer.checklist if i.citation and i.kind != "missing"}
    assert "具有香港居民身份。" in by_policy and "在测试园区工作的香港居民。" in by_policy
    assert not any("企业" in q for q in by_policy)  # the corporate tax notice is another subject
    # Incomplete when either part is: the measures' list stops (未读到), so never likely.
    assert not answer.meta["conditions_complete"] and answer.verdict == "cannot_tell"
    assert any(i.kind == "missing" for i in answer.checklist)


def test_whom_the_user_says_they_are_settles_each_condition_naming_someone_else(assistant: Assistant) -> None:
    answer = assistant.answer("我是内地户口的研究员，在测试园区上班，个人所得税优惠我能享受吗？")
    audience = next(i for i in answer.checklist if i.condition == "在测试园区工作的香港居民。")
    # "在测试园区上班" is the closer clause, but the user is no Hong Kong resident.
    assert audience.status == "unmet" and audience.user_words == "我是内地户口的研究员"
    assert answer.verdict == "unlikely"


def test_what_a_policy_covers_is_one_condition_with_its_alternatives(assistant: Assistant) -> None:
    answer = assistant.answer("我是香港居民，在测试园区工作，个人所得税优惠我能享受吗？")
    incomes = [i for i in answer.checklist if "所得" in i.condition and "综合所得" in i.condition]
    assert len(incomes) == 1 and "经营所得" in incomes[0].condition  # quoted with its items, not one row each
    assert incomes[0].kind == "any"  # one of them is enough


def test_a_policy_whose_conditions_the_sources_did_not_read_says_so(assistant: Assistant) -> None:
    answer = assistant.answer("我们公司在测试园区注册，能享受研发费用加计扣除吗？")
    assert answer.verdict == "cannot_tell" and "P19" in str(answer.meta["policy"])
    assert [i.kind for i in answer.checklist] == ["missing"]  # no condition to quote: the sources stop
    missing = answer.checklist[0].citation
    assert missing is not None and "未读到" in missing.quote
    assert answer.meta["benefit"].quote == "内容：研发费用按比例加计扣除。"
