"""Conditions stated as rules in a policy's plain bullets (not under a conditions header nor in a numbered
measure): a grant (白名单人员可 …) is a requirement, a 只能 / 须 rule binds only whom it names (``limit``), and
a rule allowing one of two benefits is not met by a user asking for both.
The corpus is tests/data/eligibility/rules.md, indexed with the fake embedder."""

from __future__ import annotations

import pytest
from support import ELIGIBILITY_DATA, REPO, make_fake_index

from assistant.answering.assistant import Assistant
from assistant.answering.eligibility.cues import Cues
from assistant.lang import to_simplified
from assistant.testing import FakeEmbedder
from assistant.wiring import build_assistant


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    settings = make_fake_index(tmp_path_factory.mktemp("rules"), ELIGIBILITY_DATA / "rules.md")
    return build_assistant(settings, embedder=FakeEmbedder())


def test_a_grant_in_a_plain_bullet_is_a_condition(assistant: Assistant) -> None:
    answer = assistant.answer("我们公司的员工想搭跨境直通巴士，能免费预约乘坐吗？")
    assert answer.verdict is not None and "P13" in str(answer.meta["policy"])
    quotes = [i.condition for i in answer.checklist]
    assert "园区“白名单”科研机构人员可免费预约乘坐，单程约45分钟。" in quotes
    assert not any("需要频繁跨境" in q for q in quotes)  # 需要 ("need") states no rule
    ticked = assistant.answer("我们是园区白名单科研机构人员，想搭跨境直通巴士，能免费预约乘坐吗？")
    assert next(i for i in ticked.checklist if "白名单" in i.condition).status == "met"


def test_an_only_rule_binds_only_whom_it_names(assistant: Assistant) -> None:
    outside = assistant.answer("我是台湾居民，在大湾区工作，我能申请大湾区个人所得税补贴吗？")
    assert "P08" in str(outside.meta["policy"])
    rule = next(i for i in outside.checklist if "只能" in i.condition)
    assert rule.kind == "limit"
    assert rule.status == "met" and rule.user_words == "我是台湾居民"  # not a Hong Kong resident: not bound
    inside = assistant.answer("我是香港居民，在园区工作，我能申请大湾区个人所得税补贴吗？")
    assert next(i for i in inside.checklist if "只能" in i.condition).status == "unknown"


def test_metadata_lines_are_not_rules(assistant: Assistant) -> None:
    answer = assistant.answer("我是台湾居民，在大湾区工作，我能申请大湾区个人所得税补贴吗？")
    assert not any("发文机关" in i.condition or "财政部门" in i.condition for i in answer.checklist)


def test_asking_for_both_benefits_fails_a_rule_allowing_one(assistant: Assistant) -> None:
    both = assistant.answer("我是香港居民，在园区工作，园区个税优惠和大湾区个人所得税补贴可以两样一起拿吗？")
    rule = next(i for i in both.checklist if "只能" in i.condition)
    assert rule.status == "unmet" and rule.user_words is not None and "两样" in rule.user_words
    assert both.verdict == "unlikely"
    # The same wish from someone the rule does not name: the rule does not bind them.
    outside = assistant.answer("我是台湾居民，在大湾区工作，园区个税优惠和大湾区个人所得税补贴可以两样一起拿吗？")
    assert next(i for i in outside.checklist if "只能" in i.condition).status == "met"
    # Without asking for both, the rule is not decided by the wish.
    one = assistant.answer("我是香港居民，在园区工作，我能申请大湾区个人所得税补贴吗？")
    assert next(i for i in one.checklist if "只能" in i.condition).status == "unknown"


@pytest.mark.parametrize(("question", "both"), [
    ("河套個稅優惠同大灣區個稅補貼可唔可以兩樣一齊攞？", True),
    ("Can I claim both the park's tax relief and the Greater Bay Area subsidy?", True),
    ("两项优惠能同时享受吗？", True),
    ("我同时在香港和深圳工作，能申请吗？", False),  # 同时 about the user's situation, not two benefits
    ("Can I claim the Greater Bay Area subsidy?", False),
])
def test_the_both_cue(question: str, both: bool) -> None:
    cues = Cues.load(REPO / "index" / "eligibility.tsv")
    assert cues is not None
    assert (cues.search("both", to_simplified(question).lower()) is not None) == both
