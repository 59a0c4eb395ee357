"""The chat model's judgement of a checklist's conditions (LLM mode): what it may change, what is checked, and
that every fault leaves the term match's statuses (assistant/answering/eligibility/judge.py).

Fast: scripted fake chat models, and the one-document fake index for the tests through the assistant and the
API. The real local model judging a condition is in test_local_llm.py.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support import ELIGIBILITY_DATA, REPO, make_fake_index

from assistant.answering.budget import CircuitBreaker, Deadline, GuardedChatModel, ModelGate
from assistant.answering.eligibility.checklist import decide
from assistant.answering.eligibility.cues import Cues
from assistant.answering.eligibility.judge import ConditionJudge, parse
from assistant.answering.prompts import Prompts
from assistant.config import Settings
from assistant.data import ChecklistItem
from assistant.errors import PromptError
from assistant.testing import FakeChatModel, FakeEmbedder, SlowChatModel
from assistant.web.api import create_app
from assistant.web.ui_checklist import render_checklist as render_html
from assistant.wiring import build_assistant

SAID = "我持香港永久性居民身份证，在园区注册的企业任职，能享受个税优惠吗？"
FACTS = ["我持香港永久性居民身份证", "在园区注册的企业任职"]  # SAID's clauses, less the one that asks
ITEMS = (
    ChecklistItem("具有香港居民身份。", "unknown", None),
    ChecklistItem("在园区注册的企业任职并实际在园区工作。", "met", None, "在园区注册的企业任职"),
    ChecklistItem("遵守法律法规。", "unknown", None),
    ChecklistItem("资料未给出其余条件。", "missing", None, None, "missing"),
)


@pytest.fixture(scope="module")
def cues() -> Cues:
    loaded = Cues.load(REPO / "index" / "eligibility.tsv")
    assert loaded is not None
    return loaded


def _judge(cues: Cues, model: object) -> ConditionJudge:
    return ConditionJudge(model, Prompts(REPO / "prompts"), cues)  # type: ignore[arg-type]


def _statuses(items: tuple[ChecklistItem, ...]) -> list[tuple[str, str, str | None]]:
    return [(i.status, i.judged_by, i.user_words) for i in items]


# -- what the model may change ---------------------------------------------------------------------------
def test_the_model_decides_an_unknown_condition_from_the_users_words(cues: Cues) -> None:
    model = FakeChatModel(["1: met | a\n2: met | b)\n3: unknown"])
    judged = _judge(cues, model).judge(ITEMS, FACTS, Deadline(30))
    assert _statuses(judged.items) == [("met", "model", "我持香港永久性居民身份证"),
                                       ("met", "both", "在园区注册的企业任职"),
                                       ("unknown", "terms", None), ("missing", "terms", None)]
    # Conditions, quotes and kinds are the index's; the missing row is never sent to the model.
    assert [(i.condition, i.kind) for i in judged.items] == [(i.condition, i.kind) for i in ITEMS]
    prompt = model.requests[0][-1].content
    assert "3. 遵守法律法规。" in prompt and "资料未给出" not in prompt
    assert "a) 我持香港永久性居民身份证\nb) 在园区注册的企业任职" in prompt
    assert judged.outcome == "ok" and judged.usage is not None and judged.usage.completion_tokens > 0
    # The verdict is recomputed from the statuses: still never likely on an incomplete list.
    assert decide([i.status for i in judged.items], complete=False) == "cannot_tell"


def test_user_words_are_found_across_scripts_and_spaces_and_shown_as_the_user_wrote_them(cues: Cues) -> None:
    facts = ["我持 香港永久性居民身份證", "在園區註冊的企業任職"]
    judged = _judge(cues, FakeChatModel(["1: met | “持香港永久性 居民身份证”"])).judge(ITEMS, facts, Deadline(30))
    assert judged.items[0].status == "met" and judged.items[0].user_words == "持 香港永久性居民身份證"


def test_words_the_user_did_not_say_are_ignored(cues: Cues) -> None:
    model = FakeChatModel(["1: met | 具有香港居民身份\n3: met | c"])  # the condition's words; no clause c
    judged = _judge(cues, model).judge(ITEMS, FACTS, Deadline(30))
    assert judged.items == ITEMS and judged.outcome == "ok (2 ignored)"


def test_the_clause_that_asks_is_not_shown_as_a_fact(cues: Cues, settings: Settings) -> None:
    checker = build_assistant(settings, embedder=FakeEmbedder()).eligibility
    assert checker is not None and checker.facts(SAID) == FACTS
    said = "我係香港人喺深圳園區返工，河套個稅優惠同大灣區個稅補貼可唔可以兩樣一齊攞？"
    assert checker.facts(said) == ["我係香港人喺深圳園區返工"]
    items = (ChecklistItem("只能在P07和本项之间选择一项。", "unknown", None, None, "limit"),)
    model = FakeChatModel(["1: unmet | 河套個稅優惠同大灣區個稅補貼"])  # what they ask about
    judged = ConditionJudge(model, Prompts(REPO / "prompts"), cues, model_unmet=True).judge(
        items, checker.facts(said), Deadline(30))
    assert judged.items == items and "可唔可以" not in model.requests[0][-1].content


def test_unknown_numbers_repeats_and_other_text_are_dropped(cues: Cues) -> None:
    reply = ("Sure! Here is my judgement:\n4: met | b\n0: met | a\n"
             "12: unmet | a\n1: unknown\n1: met | a\n"
             "5. 新增条件：遵守园区规定")
    judged = _judge(cues, FakeChatModel([reply])).judge(ITEMS, FACTS, Deadline(30))
    assert judged.items == ITEMS  # the first line for 1 said unknown; 4 is the missing row's place, never listed
    assert len(judged.items) == len(ITEMS)


def test_a_garbled_reply_leaves_the_term_match(cues: Cues) -> None:
    judged = _judge(cues, FakeChatModel(["您好！根据政策，您可以享受优惠。"])).judge(ITEMS, FACTS, Deadline(30))
    assert judged.items == ITEMS and judged.outcome == "garbled"


def test_disagreement_becomes_unknown_and_the_user_is_asked(cues: Cues) -> None:
    judged = _judge(cues, FakeChatModel(["2: unmet | b"])).judge(ITEMS, FACTS, Deadline(30))
    assert _statuses(judged.items)[1] == ("unknown", "both", None)


def test_earlier_turns_count_as_the_users_words(cues: Cues) -> None:
    model = FakeChatModel(["3: met | a"])
    judged = _judge(cues, model).judge(ITEMS, ["我从没有违法记录", *FACTS], Deadline(30))
    assert judged.items[2].status == "met" and judged.items[2].user_words == "我从没有违法记录"


def test_parse_reads_only_the_strict_format() -> None:
    got = parse("- 1：met｜“我在园区上班”。\n2: unmet | 还没备案\n3: unknown\n4: met\n5: likely | x", 5)
    assert {n: (j.status, j.words) if j else None for n, j in got.items()} == {
        1: ("met", "我在园区上班"), 2: ("unmet", "还没备案"), 3: None, 4: None}


# -- faults: the term match stands, within the request's budget --------------------------------------------
def test_model_down_leaves_the_term_match(cues: Cues) -> None:
    judged = _judge(cues, FakeChatModel(fail=True)).judge(ITEMS, FACTS, Deadline(30))
    assert judged.items == ITEMS and judged.outcome.startswith("failed") and judged.usage is None


def test_a_slow_model_is_cut_off_at_the_requests_deadline(cues: Cues) -> None:
    slow = SlowChatModel("1: met | 我持香港永久性居民身份证", delay_s=5.0)
    t0 = time.monotonic()
    judged = _judge(cues, slow).judge(ITEMS, FACTS, Deadline(2.5))
    assert time.monotonic() - t0 < 3.5 and judged.items == ITEMS
    assert slow.timeouts and slow.timeouts[0] is not None and slow.timeouts[0] <= 2.5


def test_no_call_when_the_budget_is_nearly_spent(cues: Cues) -> None:
    model = FakeChatModel(["1: met | 我持香港永久性居民身份证"])
    judged = _judge(cues, model).judge(ITEMS, FACTS, Deadline(0.5))
    assert judged.items == ITEMS and not model.requests and judged.outcome.startswith("skipped")


def test_an_open_breaker_skips_the_model(cues: Cues) -> None:
    inner = FakeChatModel(["1: met | 我持香港永久性居民身份证"])
    breaker = CircuitBreaker(failures=1, cooldown_s=60)
    breaker.failure()
    judged = _judge(cues, GuardedChatModel(inner, ModelGate(breaker=breaker))).judge(ITEMS, FACTS, Deadline(30))
    assert judged.items == ITEMS and not inner.requests and judged.outcome.startswith("failed")


# -- through the assistant and the API ---------------------------------------------------------------------
LAW = "我具有香港居民身份，在园区注册的企业任职并实际在园区工作，从没违过法，我能享受个人所得税优惠吗？"
TALENT = "我是内地人才，受雇于合作区的科技企业，我们已经在管委会那边登记过了，我能申请人才签注吗？"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_fake_index(tmp_path_factory.mktemp("eligibility-judge"), ELIGIBILITY_DATA / "policies.md")


def _talent_item(answer: object) -> ChecklistItem:
    return next(i for i in answer.checklist if "人才签注" in i.condition)  # type: ignore[attr-defined]


def test_in_llm_mode_the_models_judgement_sets_the_status_and_the_verdict(settings: Settings) -> None:
    terms = build_assistant(settings, embedder=FakeEmbedder()).answer(LAW)
    assert [i.status for i in terms.checklist] == ["met", "met", "unknown", "missing"]
    # The first reply is the generated answer's, the second the checklist judgement's.
    model = FakeChatModel(["具有香港居民身份。[1]", "1: met | a\n2: met | b\n3: met | c"])
    answer = build_assistant(settings, embedder=FakeEmbedder(), chat_model=model).answer(LAW)
    assert _statuses(answer.checklist) == [("met", "both", "我具有香港居民身份"),
                                           ("met", "both", "在园区注册的企业任职并实际在园区工作"),
                                           ("met", "model", "从没违过法"), ("missing", "terms", None)]
    assert [i.citation for i in answer.checklist] == [i.citation for i in terms.checklist]  # the index's
    # Every listed condition met, but the source's list is cut off: the recomputed verdict is still not likely.
    assert answer.verdict == "cannot_tell" and answer.meta["checklist_judge"] == "ok"
    assert answer.usage.completion_tokens >= len("1: met | a\n2: met | b\n3: met | c")
    assert answer.timings_ms["checklist"] > 0 and answer.timings_ms["total"] >= answer.timings_ms["checklist"]
    assert 'hp-ci-met hp-ci-by-model"' in render_html(answer)  # the web chat marks who judged it


def test_a_condition_of_several_requirements_is_not_met_by_the_model(settings: Settings) -> None:
    # 内地人才如果受雇于…，先由园区管理部门备案: the user says they are employed; 登记 is not 备案 to the term match
    model = FakeChatModel(["内地人才可申请人才签注。[1]", "1: met | c"])
    answer = build_assistant(settings, embedder=FakeEmbedder(), chat_model=model).answer(TALENT)
    item = _talent_item(answer)
    assert (item.status, item.judged_by) == ("unknown", "terms") and answer.verdict == "need_more_info"
    assert answer.meta["checklist_judge"] == "ok (1 ignored)"


def test_in_llm_mode_a_failing_model_leaves_the_extractive_checklist(settings: Settings) -> None:
    terms = build_assistant(settings, embedder=FakeEmbedder()).answer(TALENT)
    failing = build_assistant(settings, embedder=FakeEmbedder(), chat_model=FakeChatModel(fail=True)).answer(TALENT)
    assert failing.checklist == terms.checklist and failing.verdict == terms.verdict
    assert failing.meta["checklist_judge"].startswith("failed")


def test_api_and_stream_say_who_judged_each_condition(settings: Settings) -> None:
    model = FakeChatModel(["具有香港居民身份。[1]", "3: met | c"])
    assistant = build_assistant(settings, embedder=FakeEmbedder(), chat_model=model)
    client = TestClient(create_app(assistant, settings, None), base_url="http://127.0.0.1")
    body = client.post("/api/v1/ask", json={"question": LAW}).json()
    item = next(i for i in body["checklist"]["items"] if "遵守法律法规" in i["condition"])
    assert item["judged_by"] == "model" and item["status"] == "met" and item["user_words"] == "从没违过法"
    with client.stream("POST", "/api/v1/ask/stream", json={"question": LAW}) as response:
        text = "".join(response.iter_text())
    events = {b.split("\n", 1)[0].removeprefix("event: "): b.split("\n", 1)[1] for b in text.strip().split("\n\n")}
    streamed = json.loads(events["checklist"].removeprefix("data: "))
    assert [i["judged_by"] for i in streamed["items"]] == ["terms", "terms", "model", "terms"]


def test_an_example_prompt_without_its_reply_line_is_named(cues: Cues, tmp_path: Path) -> None:
    for name in ("judge_conditions", "judge_conditions_case"):
        shutil.copy2(REPO / "prompts" / f"{name}.txt", tmp_path)
    (tmp_path / "judge_conditions_example.txt").write_text("# variables:\n1. 条件\n1: met | 话\n", encoding="utf-8")
    judge = ConditionJudge(FakeChatModel(["1: met | x"]), Prompts(tmp_path), cues)
    with pytest.raises(PromptError, match=r"judge_conditions_example.*### reply"):
        judge.judge(ITEMS, FACTS, Deadline(30))


def test_an_english_question_gets_the_english_worked_example(cues: Cues) -> None:
    facts = ["I'm a Hong Kong resident working for a company registered in the park"]
    model = FakeChatModel(["1: met | I'm a Hong Kong resident"])  # copied words count when a clause has them
    judged = _judge(cues, model).judge(ITEMS, facts, Deadline(30))
    assert judged.items[0].status == "met" and judged.items[0].user_words == "I'm a Hong Kong resident"
    roles = [m.role for m in model.requests[0]]
    assert roles == ["system", "user", "assistant", "user"]
    assert "permanent resident of Hong Kong" in model.requests[0][1].content
    _judge(cues, chinese := FakeChatModel(["1: unknown"])).judge(ITEMS, FACTS, Deadline(30))
    assert "我是香港永久居民" in chinese.requests[0][1].content


def test_the_model_alone_marks_nothing_unmet_unless_allowed(cues: Cues) -> None:
    reply = "1: unmet | a"
    judged = _judge(cues, FakeChatModel([reply])).judge(ITEMS, FACTS, Deadline(30))
    assert judged.items == ITEMS and judged.outcome == "ok (1 ignored)"
    allowed = ConditionJudge(FakeChatModel([reply]), Prompts(REPO / "prompts"), cues, model_unmet=True)
    first = _statuses(allowed.judge(ITEMS, FACTS, Deadline(30)).items)[0]
    assert first == ("unmet", "model", "我持香港永久性居民身份证")


def test_the_judgement_can_be_turned_off(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARK_LLM_CHECKLIST", "off")
    off = Settings.from_env().llm_checklist
    model = FakeChatModel(["具有香港居民身份。[1]", "3: met | c"])
    answer = build_assistant(settings.with_(llm_checklist=off), embedder=FakeEmbedder(), chat_model=model).answer(LAW)
    assert off == "off" and len(model.requests) == 1  # the answer's call only
    assert answer.checklist[2].status == "unknown" and "checklist_judge" not in answer.meta


def test_the_local_model_does_not_judge_checklists_unless_asked(settings: Settings,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # On the check split the local 1.5B model's judgement turned two right verdicts into wrong ones: with it,
    # the default (auto) leaves the term match alone; a configured endpoint judges.
    local = Settings(local_model="/models/any.gguf")
    assert local.uses_local_model and local.llm_checklist == "auto" and not local.judge_checklist
    assert Settings(local_model="/models/any.gguf", llm_checklist="on").judge_checklist
    assert Settings(openai_base_url="http://127.0.0.1:8000/v1").judge_checklist
    assert not Settings(openai_base_url="http://127.0.0.1:8000/v1", llm_checklist="off").judge_checklist
    monkeypatch.setenv("PARK_LLM_CHECKLIST", "auto")
    assert Settings.from_env().llm_checklist == "auto"
    # What build_assistant wires: the local model in use → one call, the answer's; the checklist from terms.
    model = FakeChatModel(["具有香港居民身份。[1]", "3: met | c"])
    as_local = settings.with_(local_model="/models/any.gguf", llm_gate="lenient")  # the gate as in the others
    answer = build_assistant(as_local, embedder=FakeEmbedder(), chat_model=model).answer(LAW)
    assert len(model.requests) == 1 and answer.checklist[2].judged_by == "terms"
