"""The real local model (the packaged Qwen2.5-Coder-1.5B GGUF, served by llama.cpp as a supervised child
process) answering over the tiny corpus. Content is asserted, not only the protocol.

Slow: each answer takes seconds on an idle 2-core machine and a minute or more on a busy one. The server runs
one thread: llama.cpp's threads spin-wait on each other, and on a busy machine two were 7x slower than one.
Skipped where the model parts are not installed (``scripts/setup.sh --no-model``), unless
``PARK_TEST_LOCAL_GGUF`` names the packaged model's GGUF assembled elsewhere.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from support import REPO, make_tiny_settings

from assistant.answering import local_model
from assistant.answering.assistant import Assistant
from assistant.answering.budget import GuardedChatModel, ModelGate
from assistant.answering.citations import figures
from assistant.answering.llm import collect
from assistant.answering.llm_server import LocalChatModel, Supervisor
from assistant.answering.output_checks import chinese_beyond_names
from assistant.config import Settings
from assistant.data import Answer, Delta, Message, Sources, Usage
from assistant.lang import to_simplified
from assistant.messages import text as message
from assistant.text.markers import MARKER, marker_numbers, strip_markers
from assistant.wiring import build_assistant, build_indexer

pytestmark = [pytest.mark.slow, pytest.mark.local_llm, pytest.mark.timeout(900)]



@pytest.fixture(scope="module")
def supervisor() -> Iterator[Supervisor]:
    assembled = os.environ.get("PARK_TEST_LOCAL_GGUF")  # the packaged model already assembled elsewhere
    if assembled:
        model = local_model.LocalModel(local_model.check_gguf(Path(assembled)), local_model.MODEL_ALIAS,
                                       local_model.CHAT_TEMPLATE)
    elif not local_model.packaged_model_installed():
        pytest.skip("the local model is not installed (scripts/setup.sh installs it unless --no-model)")
    else:
        model = local_model.resolve_model("auto", None, REPO / "var" / "models")
    assert model is not None and model.alias == local_model.MODEL_ALIAS
    with Supervisor(model, threads=1, check_s=0.2) as sup:
        yield sup


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, supervisor: Supervisor) -> Settings:
    settings = make_tiny_settings(tmp_path_factory.mktemp("local-llm"), request_budget_s=800, local_max_tokens=120)
    build_indexer(settings).build()
    return settings.with_(llm_max_tokens=120, local_model=str(supervisor.server.model.path))


@pytest.fixture(scope="module")
def assistant(settings: Settings, supervisor: Supervisor) -> Assistant:
    chat = GuardedChatModel(LocalChatModel(supervisor, timeout_s=600), ModelGate(max_wait_s=800))
    return build_assistant(settings, chat_model=chat)


def _figures_are_cited(answer: Answer) -> None:
    """Every figure of every sentence appears in a passage that sentence cites (units come with the text)."""
    by_n = {c.n: c.passage_text for c in answer.citations}
    label = message("answer.source_words", answer.lang).split("{", 1)[0]
    lines = answer.text.splitlines()
    for line in (line for line in lines if line.startswith(label)):  # the source's words: one quote, one marker
        quote, numbers = strip_markers(line[len(label):]), marker_numbers(line)
        def bare(text: str) -> str:
            return re.sub(r"\s+", "", to_simplified(text))

        assert numbers and bare(quote) in bare(by_n[numbers[-1]]), f"{line!r} is not in its passage"
    written = "\n".join(line for line in lines if not line.startswith(label))
    for sentence in re.split(r"(?<=[。！？!?])|(?<=\.)(?=\s)|\n", written):
        cited = [by_n[n] for n in marker_numbers(sentence) if n in by_n]
        for f in figures(strip_markers(sentence)):
            assert cited and any(f in text for text in cited), f"{f} in {sentence!r} is not in its passage"


def test_chinese_answer_has_the_right_figure_and_its_citation(assistant: Assistant) -> None:
    events = list(assistant.stream("河套合作区总面积有多大？"))
    answer = events[-1]
    assert isinstance(answer, Answer) and isinstance(events[0], Sources) and events[0].citations
    assert answer.mode == "llm", answer.meta.get("fallback_reason")
    assert answer.model == local_model.MODEL_ALIAS and answer.usage.completion_tokens > 0
    assert "3.89" in answer.text and "平方公里" in answer.text
    assert any("3.89" in c.passage_text for c in answer.citations)
    assert "".join(e.text for e in events if isinstance(e, Delta)) == answer.text
    _figures_are_cited(answer)


def test_the_system_prompt_is_computed_once_then_read_from_the_servers_cache(assistant: Assistant) -> None:
    # The fixed system prompt comes first in every answer prompt, so llama.cpp reuses its computation: on
    # 2 cores that saves ~3.5 s of the ~70-tokens-a-second prompt reading on every answer after the first.
    assistant.answer("深圳园区由哪两个片区组成？")
    answer = assistant.answer("河套合作区总面积有多大？")
    assert answer.mode == "llm", answer.meta.get("fallback_reason")
    assert answer.usage.cached_tokens >= 150 and answer.usage.prompt_s > 0, answer.usage
    assert answer.timings_ms["model_prompt"] > 0 and answer.timings_ms["model_generate"] > 0


def test_a_warmed_up_assistants_first_answer_finds_its_system_prompt_in_the_cache(settings: Settings,
                                                                                   supervisor: Supervisor) -> None:
    # A new assistant has a new canary, so no earlier prompt shares its system prompt: warm_up has the server
    # read it, and the first question reads only its passages and itself.
    fresh = build_assistant(settings, chat_model=LocalChatModel(supervisor, timeout_s=600))
    assert fresh.prime_model and fresh.generative is not None
    fresh.warm_up(wait=True)
    answer = fresh.answer("河套合作区总面积有多大？")
    assert answer.mode == "llm", answer.meta.get("fallback_reason")
    assert answer.usage.cached_tokens >= 150, answer.usage


def test_the_system_prompt_survives_a_different_prompt_in_the_slot(assistant: Assistant,
                                                                   supervisor: Supervisor) -> None:
    # One slot holds one prompt's computation: a condensed follow-up pushes the answer prompt out, and the
    # server's RAM prompt cache brings its system prompt back for the next answer.
    assert assistant.generative is not None
    system, chat = assistant.generative.system_prompt(), LocalChatModel(supervisor, timeout_s=600)
    ask = [Message("system", system), Message("user", "<passages>\n[1] 合作区共约3.89平方公里。\n</passages>")]
    other = [Message("user", "把这段对话里的最后一个问题改写成一个完整、独立的问题：用户：河套在哪里？用户：多大？")]
    for messages in (ask, other):
        collect(chat.stream(messages, max_tokens=1))
    usage = collect(chat.stream([ask[0], Message("user", "<passages>\n[1] 深圳园区3.02平方公里。\n</passages>")],
                                max_tokens=1))[1]
    assert usage is not None and usage.cached_tokens >= 150, usage


def test_english_question_gets_an_english_answer(assistant: Assistant) -> None:
    answer = assistant.answer("How large is the Shenzhen Park of the Hetao zone?")
    assert answer.mode == "llm" and answer.lang == "en", answer.meta.get("fallback_reason")
    assert "3.02" in answer.text and answer.citations
    latin = len(re.findall(r"[A-Za-z]", answer.text))
    han = len(re.findall(r"[\u4e00-\u9fff]", answer.text))
    assert latin > 20 and han <= 0.2 * latin, answer.text  # English, at most a quoted name in Chinese
    _figures_are_cited(answer)


def test_english_date_question_gets_the_date_in_english(assistant: Assistant) -> None:
    # The model may answer vaguely or write the date the source's way (2023年8月29日); the date the best quote
    # states is then added in English, cited ("The source states: 29 August 2023 [n]."), so it is there either way.
    answer = assistant.answer("When was the plan published?")
    assert answer.mode == "llm" and answer.lang == "en", answer.meta.get("fallback_reason")
    text = strip_markers(answer.text)
    assert re.search(r"\b29\b", text) and "August" in text and "2023" in text, answer.text
    passages = "\n".join(c.passage_text for c in answer.citations)
    for line in answer.text.splitlines():
        assert not chinese_beyond_names(strip_markers(line), passages), line  # no Chinese sentence
    _figures_are_cited(answer)


def test_english_list_answer_may_name_chinese_places_but_says_the_rest_in_english(assistant: Assistant) -> None:
    answer = assistant.answer("Which land border crossings does the Hetao zone have?")
    assert answer.mode == "llm" and answer.lang == "en", answer.meta.get("fallback_reason")
    text = answer.text
    assert ("Futian" in text or "福田" in text) and ("Huanggang" in text or "皇岗" in text), text
    passages = "\n".join(c.passage_text for c in answer.citations)
    for line in text.splitlines():
        assert not chinese_beyond_names(strip_markers(line), passages), line  # Chinese only as quoted names
    names_dropped = [d for d in answer.meta["dropped"] if d.startswith("not in English") and "口岸" in d]
    assert not names_dropped or "Futian" in text, names_dropped  # a quoted port name is not "not English"
    _figures_are_cited(answer)


def test_off_topic_question_is_declined_in_the_decline_format(assistant: Assistant) -> None:
    answer = assistant.answer("法国的首都是哪里？")
    assert answer.mode == "decline" and not answer.answerable
    assert answer.text.startswith(message("decline.no-evidence", "zh-Hans"))
    assert "巴黎" not in answer.text


class _NoMarkers:
    """The real model with every ``[n]`` it writes removed on the fly: a model that never cites."""

    def __init__(self, inner: GuardedChatModel) -> None:
        self.inner, self.name = inner, inner.name

    def stream(self, messages: Sequence[Message], *, max_tokens: int | None = None,
               timeout_s: float | None = None) -> Iterator[str | Usage]:
        text = []  # whole, since a marker may come split across deltas ("[" then "1]")
        for event in self.inner.stream(messages, max_tokens=max_tokens, timeout_s=timeout_s):
            if isinstance(event, str):
                text.append(event)
            else:
                yield MARKER.sub("", "".join(text))
                yield event


def test_answer_without_markers_is_attributed_post_hoc(assistant: Assistant) -> None:
    assert assistant.generative is not None
    real = assistant.generative.chat_model
    assert isinstance(real, GuardedChatModel)
    assistant.generative.chat_model = _NoMarkers(real)
    try:
        answer = assistant.answer("深圳园区由哪两个片区组成？")
    finally:
        assistant.generative.chat_model = real
    assert not MARKER.search(answer.meta.get("raw", "x")), "the wrapper should have removed the model's markers"
    assert answer.mode == "llm" and answer.citations, answer.meta.get("fallback_reason")
    assert "福田保税区" in answer.text or "皇岗口岸" in answer.text
    assert marker_numbers(answer.text)  # every kept sentence got its marker back from attribution
    _figures_are_cited(answer)


def test_server_killed_mid_stream_falls_back_to_quotes_and_is_restarted(assistant: Assistant,
                                                                         supervisor: Supervisor) -> None:
    killed: list[float] = []
    final: Answer | None = None
    for event in assistant.stream("河套合作区有哪些口岸？"):
        if isinstance(event, Delta) and not killed:
            supervisor.server.kill()  # as a crash would: the open stream breaks
            killed.append(time.monotonic())
        elif isinstance(event, Answer):
            final = event
    assert killed, "the model wrote nothing before the kill"
    assert final is not None and final.mode == "extractive" and final.answerable
    assert final.notice == message("note.fallback", "zh-Hans") and "口岸" in final.text
    assert time.monotonic() - killed[0] < 10
    # Meanwhile the next question is quoted at once, not queued behind a dead server.
    t0 = time.monotonic()
    quick = assistant.answer("河套合作区总面积有多大？")
    assert quick.mode == "extractive" or quick.mode == "llm"
    if quick.mode == "extractive":
        assert time.monotonic() - t0 < 10
    # The supervisor restarts the server; answers come from the model again.
    assert supervisor.wait_ready(300), supervisor.server.log_tail()
    assert supervisor.restarts >= 1
    again = assistant.answer("河套合作区总面积有多大？")
    assert again.mode == "llm" and "3.89" in again.text, again.meta.get("fallback_reason")


def test_the_model_judges_a_plainly_stated_condition_met(supervisor: Supervisor) -> None:
    """LLM-mode checklists: the model reads each condition against the user's words (eligibility/judge.py)."""
    from assistant.answering.budget import Deadline
    from assistant.answering.eligibility.cues import Cues
    from assistant.answering.eligibility.judge import ConditionJudge
    from assistant.answering.prompts import Prompts
    from assistant.data import ChecklistItem

    cues = Cues.load(REPO / "index" / "eligibility.tsv")
    assert cues is not None
    judge = ConditionJudge(LocalChatModel(supervisor, timeout_s=600), Prompts(REPO / "prompts"), cues)
    items = (ChecklistItem("具有香港居民身份。", "unknown", None),
             ChecklistItem("遵守法律法规。", "unknown", None))
    facts = ["我是香港居民", "在园区一家注册的企业任职"]  # the clauses of 我是香港居民，…，能享受个税优惠吗？
    judged = judge.judge(items, facts, Deadline(800))
    assert judged.outcome.startswith("ok"), (judged.outcome, judged.raw)
    first = judged.items[0]
    assert (first.status, first.judged_by, first.user_words) == ("met", "model", "我是香港居民"), judged.raw
