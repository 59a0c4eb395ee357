"""Eligibility checklists: detection from the cue file, conditions from the index's structure, statuses
from the user's words, the verdict, and the checklist on every endpoint (API JSON, SSE, OpenAI, CLI).

The corpus is tests/data/eligibility/policies.md (a policy whose condition list the source says is cut off,
a customs measure with an audience and an exclusion, an entry/exit measure stated in one sentence). The
index is built with the fake embedder (a bag of characters), except in the slow test at the end, which
builds it with the real e5 model and checks a cross-lingual contrast and a meaning match.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from support import ELIGIBILITY_DATA, REPO, make_fake_index, make_tiny_settings

from assistant.answering.assistant import Assistant
from assistant.answering.eligibility.checklist import decide, user_clauses
from assistant.answering.eligibility.cues import Cues
from assistant.answering.eligibility.detect import detect
from assistant.answering.eligibility.render import render_checklist, with_fact
from assistant.config import Settings
from assistant.errors import InputError
from assistant.knowledge.embedding import CachedEmbedder
from assistant.messages import text as message
from assistant.testing import FakeEmbedder
from assistant.web.api import create_app
from assistant.wiring import build_assistant, build_indexer

CORPUS = (REPO / "tests" / "data" / "eligibility" / "policies.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def cues() -> Cues:
    loaded = Cues.load(REPO / "index" / "eligibility.tsv")
    assert loaded is not None
    return loaded


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_fake_index(tmp_path_factory.mktemp("eligibility"), ELIGIBILITY_DATA / "policies.md")


@pytest.fixture(scope="module")
def assistant(settings: Settings) -> Assistant:
    return build_assistant(settings, embedder=FakeEmbedder())


# -- detection ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("question", [
    "我是香港居民，在园区公司上班，能不能享受个税优惠？",
    "我係香港人喺深圳園區返工，個稅優惠可唔可以攞？",
    "Our institute is in the park. Can we use the priority quarantine approval?",
    "公司刚注册还没纳税 员工能办商务备案吗",
])
def test_detects_eligibility_questions_in_three_languages(question: str, cues: Cues) -> None:
    assert detect(question, cues).eligible_question


@pytest.mark.parametrize("question", ["深圳园区面积多大？", "P07 的文号是什么？", "What is the Hetao zone?"])
def test_other_questions_are_not_eligibility_questions(question: str, cues: Cues) -> None:
    assert not detect(question, cues).eligible_question


def test_a_bad_cue_line_is_named() -> None:
    with pytest.raises(InputError, match=r"x.tsv:2"):
        Cues.parse("self\t我\nnonsense line", "x.tsv")
    with pytest.raises(InputError, match="bad regular expression"):
        Cues.parse("ask\t(unclosed", "x.tsv")


def test_missing_cue_file_turns_the_feature_off(tmp_path: Path) -> None:
    assert Cues.load(tmp_path / "none.tsv") is None


# -- verdict and clauses -----------------------------------------------------------------------------------
def test_verdict_is_never_likely_when_the_list_is_incomplete() -> None:
    assert decide(["met", "met", "missing"], complete=False) == "cannot_tell"
    assert decide(["met", "unmet", "missing"], complete=False) == "unlikely"
    assert decide(["met", "unknown"], complete=True) == "need_more_info"
    assert decide(["met", "met"], complete=True) == "likely"


def test_user_clauses_split_on_punctuation_and_spaces() -> None:
    assert user_clauses("公司刚注册 还没纳税，员工能办吗？") == ["公司刚注册", "还没纳税", "员工能办吗"]


# -- the checklist from the index ------------------------------------------------------------------------
def test_conditions_are_quoted_exactly_and_the_truncated_list_says_so(assistant: Assistant,
                                                                      settings: Settings) -> None:
    answer = assistant.answer("我具有香港居民身份，在园区注册的企业任职并实际在园区工作，我能享受个人所得税优惠吗？")
    assert answer.verdict == "cannot_tell"  # all stated conditions met, but the source's list is cut off
    body = CORPUS.split("---\n", 2)[2]
    quotes = [i.condition for i in answer.checklist if i.kind != "missing"]
    assert quotes == ["具有香港居民身份。", "在园区注册的企业任职并实际在园区工作。", "遵守法律法规。"]
    for item in answer.checklist:
        assert item.citation is not None
        loaded = body.lstrip("\n")
        assert item.citation.quote in loaded
    statuses = [i.status for i in answer.checklist]
    assert statuses[:2] == ["met", "met"] and statuses[-1] == "missing"
    assert answer.checklist[0].user_words == "我具有香港居民身份"
    missing = answer.checklist[-1]
    assert missing.citation is not None and "未读到" in missing.citation.quote
    office = answer.meta["office"]
    assert office.quote == "某区税务局。"  # 执行单位 before 发文机关
    benefit = answer.meta["benefit"]  # what the policy gives, its own line whole
    assert benefit.quote == "优惠内容：个人所得税税负高出香港税负的部分免征。" and benefit.quote in CORPUS
    assert answer.meta["prevail"].startswith("以官方文本为准")


def test_a_contrary_fact_makes_the_verdict_unlikely(assistant: Assistant) -> None:
    answer = assistant.answer("我是内地居民身份，在园区注册的企业任职，我能享受个人所得税优惠吗？")
    assert answer.verdict == "unlikely"
    assert answer.checklist[0].status == "unmet"


def test_negated_whitelist_filing_is_unmet(assistant: Assistant) -> None:
    answer = assistant.answer("我们是科研机构，还没做白名单备案，海关的科研货物便利措施我们能用吗？")
    assert answer.verdict == "unlikely"
    item = next(i for i in answer.checklist if "白名单" in i.condition)
    assert item.status == "unmet" and item.user_words == "还没做白名单备案"


def test_an_english_clause_meets_a_chinese_exclusion_through_the_glossary(assistant: Assistant) -> None:
    # "pathogen" (病原体) addresses the exclusion without its qualifier; the next sentence's clause, through
    # "biosafety" (生物安全), says the risk is unknown: an exclusion applies when any clause says so.
    answer = assistant.answer("Our lab wants to bring in a pathogen whose biosafety risk hasn't been "
                              "characterised yet. Can we use the customs priority quarantine approval?")
    item = next(i for i in answer.checklist if "不适用" in i.condition)
    assert item.status == "unmet" and item.user_words == "biosafety risk hasn't been characterised yet"
    assert answer.verdict == "unlikely"


def test_a_measure_in_one_sentence_is_checked_clause_by_clause(assistant: Assistant) -> None:
    answer = assistant.answer("我是内地人才，受雇于合作区的科技企业，我能申请人才签注吗？")
    item = next(i for i in answer.checklist if "人才签注" in i.condition)
    assert item.status == "unknown"  # employed: said; filed by the park's office (备案): not said
    assert answer.verdict == "need_more_info"
    # 是/否 ticked: the question again with that fact (the one composition every client uses)
    ticked = assistant.answer(with_fact(answer.question, item, True, answer.lang))
    assert ticked.question == ("我是内地人才，受雇于合作区的科技企业，我能申请人才签注吗？"
                               "我已满足“内地人才如果受雇于合作区的科技企业、先由园区管理部门备案、即可申请人才签注”")
    assert ticked.verdict == "likely"
    refused = assistant.answer(with_fact(answer.question, item, False, answer.lang))
    assert refused.verdict == "unlikely"


def test_the_measure_checked_is_the_one_the_user_asks_for(assistant: Assistant) -> None:
    # The user's situation (a company's employee) is closer to the channel measure; what they ask for names
    # the talent endorsement.
    answer = assistant.answer("我是园区一家公司的员工，经常要去香港，能办那个人才签注吗？")
    assert [i.condition for i in answer.checklist] == [
        "内地人才如果受雇于合作区的科技企业，先由园区管理部门备案，即可申请人才签注。"]


@pytest.mark.parametrize(("question", "lang", "group"), [
    ("我是澳门居民，受雇于合作区的科技企业，能申请人才签注吗？", "zh-Hans", "澳门居民"),
    ("I'm a German researcher employed by a tech company in the zone. Can I apply for the talent endorsement?",
     "en", "foreign nationals"),
])
def test_a_rule_asked_for_a_group_the_sources_do_not_name_is_declined_naming_it(assistant: Assistant, question: str,
                                                                                   lang: str, group: str) -> None:
    # The endorsement is for mainland talent (内地人才): whether it covers the group asked about is not said,
    # and a checklist of the mainland rule's conditions would read as the asker's own.
    answer = assistant.answer(question)
    assert not answer.answerable and answer.checklist == () and answer.meta["missing_detail"] == "group"
    assert answer.text.splitlines()[0] == message("decline.group", lang).format(group=group)


def test_a_group_the_quotes_name_is_answered(assistant: Assistant) -> None:
    # 香港居民 is named by the rule: the checklist answers; a spouse mentioned in passing names no group asked for
    answer = assistant.answer("我老公是香港居民，在园区注册的企业任职，他能享受个人所得税优惠吗？")
    assert answer.answerable and answer.checklist and answer.meta.get("missing_detail") != "group"


def test_a_question_that_is_not_about_eligibility_has_no_checklist(assistant: Assistant) -> None:
    answer = assistant.answer("P07 的执行单位是哪个？")
    assert answer.verdict is None and answer.checklist == ()


# -- every endpoint ----------------------------------------------------------------------------------------
QUESTION = "我是内地居民身份，在园区注册的企业任职，我能享受个人所得税优惠吗？"


def test_api_ask_and_stream_carry_the_checklist(assistant: Assistant, settings: Settings) -> None:
    client = TestClient(create_app(assistant, settings, None), base_url="http://127.0.0.1")
    body = client.post("/api/v1/ask", json={"question": QUESTION}).json()
    assert body["checklist"]["verdict"] == "unlikely"
    assert body["checklist"]["items"][0]["citation"]["quote"] == "具有香港居民身份。"
    assert body["checklist"]["complete"] is False
    with client.stream("POST", "/api/v1/ask/stream", json={"question": QUESTION}) as response:
        text = "".join(response.iter_text())
    events = [block.split("\n", 1) for block in text.strip().split("\n\n")]
    names = [e[0].removeprefix("event: ") for e in events]
    assert names.index("checklist") < names.index("done")
    checklist = json.loads(events[names.index("checklist")][1].removeprefix("data: "))
    assert checklist["verdict"] == "unlikely" and checklist["items"][-1]["status"] == "missing"
    for shown in (checklist, body["checklist"]):
        assert shown["benefit"]["quote"] == "优惠内容：个人所得税税负高出香港税负的部分免征。"
        assert shown["labels"]["benefit"] == "政策内容（据资料）："
    # an unknown condition carries the question asked again with it met / not met; a decided one does not
    items = {i["status"]: i for i in body["checklist"]["items"]}
    unknown = next(i for i in assistant.answer(QUESTION).checklist if i.status == "unknown")
    assert items["unknown"]["ask_yes"] == with_fact(QUESTION, unknown, True, "zh-Hans")
    assert items["unknown"]["ask_no"] == with_fact(QUESTION, unknown, False, "zh-Hans")
    assert items["met"]["ask_yes"] is None and items["unmet"]["ask_no"] is None
    plain = client.post("/api/v1/ask", json={"question": "P07 的执行单位是哪个？"}).json()
    assert plain["checklist"] is None


def test_openai_route_renders_a_markdown_checklist(assistant: Assistant, settings: Settings) -> None:
    client = TestClient(create_app(assistant, settings, None), base_url="http://127.0.0.1")
    body = client.post("/v1/chat/completions", json={"model": "park", "messages": [
        {"role": "user", "content": QUESTION}]}).json()
    content = body["choices"][0]["message"]["content"]
    assert "- [ ] “具有香港居民身份。” — 不符合" in content and "以官方文本为准" in content
    assert "政策内容（据资料）： “优惠内容：个人所得税税负高出香港税负的部分免征。”" in content
    with client.stream("POST", "/v1/chat/completions", json={"model": "park", "stream": True, "messages": [
            {"role": "user", "content": QUESTION}]}) as response:
        streamed = "".join(response.iter_text())
    assert "具有香港居民身份" in streamed and "以官方文本为准" in streamed


def test_cli_ask_prints_the_checklist(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant import cli

    monkeypatch.setattr("assistant.wiring.build_embedder", lambda _settings: FakeEmbedder())
    monkeypatch.setenv("PARK_INDEX_DIR", str(settings.index_dir))
    result = CliRunner().invoke(cli.cli, ["ask", QUESTION])
    assert result.exit_code == 0, result.output
    assert "具有香港居民身份" in result.output and "不符合" in result.output and "部分免征" in result.output


def test_render_is_empty_without_a_checklist(assistant: Assistant) -> None:
    assert render_checklist(assistant.answer("P07 的执行单位是哪个？")) == ""


@pytest.mark.slow
def test_real_e5_checklist(tmp_path: Path) -> None:
    settings = make_tiny_settings(tmp_path)
    shutil.rmtree(settings.index_dir / "sources")
    (settings.index_dir / "sources").mkdir()
    shutil.copy2(REPO / "tests" / "data" / "eligibility" / "policies.md", settings.index_dir / "sources")
    build_indexer(settings).build()
    real = build_assistant(settings)
    english = real.answer("I'm from Taiwan and work for a company registered in the park. "
                          "Can I claim the individual income tax incentive?")
    assert english.verdict == "unlikely"
    assert next(i for i in english.checklist if "香港居民" in i.condition).status == "unmet"
    chinese = real.answer("我持香港永久性居民身份证，在园区注册的企业任职并实际在园区工作，我的个税能少交吗？")
    assert chinese.verdict == "cannot_tell"  # never likely: the source's list is cut off
    assert [i.status for i in chinese.checklist][:2] == ["met", "met"]


def test_a_policys_conditions_are_embedded_once_across_questions(settings: Settings) -> None:
    embedder = FakeEmbedder()
    assistant = build_assistant(settings, embedder=embedder)
    question = "我是内地居民身份，在园区注册的企业任职，我能享受个人所得税优惠吗？"
    first = assistant.answer(question)
    after_first = embedder.embedded_count
    again = assistant.answer(question)
    # The second time only the question is embedded, for retrieval: conditions and clauses come from the cache.
    assert again.checklist == first.checklist and again.verdict == first.verdict and first.checklist
    assert embedder.embedded_count - after_first <= 2 < after_first - 2


def test_warm_up_embeds_the_conditions_so_an_answer_embeds_only_the_users_words(settings: Settings) -> None:
    assistant = build_assistant(settings, embedder=FakeEmbedder())
    checker = assistant.eligibility
    assert checker is not None and isinstance(checker.embedder, CachedEmbedder)
    assistant.warm_up(wait=True)
    prepared = checker.embedder.misses
    assert prepared >= 5  # every policy's heading, measures, conditions and their clauses
    question = "我是内地居民身份，在园区注册的企业任职，我能享受个人所得税优惠吗？"
    answer = assistant.answer(question)
    assert answer.checklist
    # Only the user's clauses and the question itself were new to the embedder.
    assert checker.embedder.misses - prepared <= len(user_clauses(question)) + 1


def test_warm_up_prepares_the_conditions_in_the_background_by_default(settings: Settings) -> None:
    import threading
    import time

    assistant = build_assistant(settings, embedder=FakeEmbedder())
    assert assistant.eligibility is not None
    started = threading.Event()
    release = threading.Event()
    prepare = assistant.eligibility.prepare

    def slow_prepare(batch: int = 8) -> int:
        started.set()
        release.wait(10)
        return prepare(batch)

    assistant.eligibility.prepare = slow_prepare  # type: ignore[method-assign]
    assistant.warm_up()  # returns while the conditions are still being embedded
    assert started.wait(5) and assistant.eligibility.embedder.misses <= 1
    release.set()
    deadline = time.monotonic() + 10
    while assistant.eligibility.embedder.misses < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert assistant.eligibility.embedder.misses >= 5
