"""Follow-ups that do not say they are one, over the shipped knowledge base (extractive mode).

A question whose own words find no answer is tried once more after the previous question — and that answer is
kept only when its quotes speak to the new question's own words, so a change of subject is still declined.
"""

from __future__ import annotations

import shutil

import pytest
from support import REPO, make_tiny_settings

from assistant.answering.assistant import Assistant
from assistant.data import Answer, Message
from assistant.wiring import build_assistant, build_indexer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    settings = make_tiny_settings(tmp_path_factory.mktemp("followups"))
    shutil.rmtree(settings.index_dir / "sources")
    shutil.copytree(REPO / "index" / "sources", settings.index_dir / "sources")
    build_indexer(settings).build()
    assistant = build_assistant(settings)
    assert assistant.mode == "extractive"
    return assistant


def _quotes(answer: Answer) -> str:
    return "\n".join(c.quote for c in answer.citations)


@pytest.mark.parametrize(("previous", "question"), [
    # Alone, "can they move around freely once in" names nothing of the sources (0.07); after the question
    # about the two lines, it is about goods. (货物进来以后能随便流动吗 names the goods and the free movement
    # itself: it is answered on its own.)
    ("深圳园区的一线和二线分别指什么？", "进来以后能随便动吗"),
])
def test_an_elliptical_follow_up_is_answered_with_the_question_before_it(shipped: Assistant, previous: str,
                                                                         question: str) -> None:
    # No 其中, 它, "it" or "the second one": nothing in the words says that this is a follow-up.
    assert not shipped.answer(question).answerable
    answer = shipped.answer(question, [Message("user", previous)])
    assert answer.answerable and "自由流动" in _quotes(answer)
    assert answer.meta["standalone"] == f"{previous} {question}"


def test_a_what_about_follow_up_is_read_with_the_question_before_it(shipped: Assistant) -> None:
    # "What about …" says it follows on; its own words (goods, in) now reach the answer too.
    previous = "What do first line and second line mean in the Shenzhen Park?"
    answer = shipped.answer("What about goods once they're in?", [Message("user", previous)])
    assert answer.answerable and "自由流动" in _quotes(answer)
    assert answer.meta["standalone"] == f"{previous} What about goods once they're in?"


def test_goods_moving_freely_inside_is_answered_on_its_own(shipped: Assistant) -> None:
    # The glossary carries move / freely / inside over (流动, 自由, 区域): no conversation needed.
    answer = shipped.answer("Can goods move freely inside?")
    assert answer.answerable and "自由流动" in _quotes(answer) and answer.meta["standalone"] == answer.question


def test_a_question_answered_by_its_own_words_is_not_joined(shipped: Assistant) -> None:
    history = [Message("user", "What do first line and second line mean in the Shenzhen Park?")]
    answer = shipped.answer("河套合作区总面积有多大？", history)
    assert answer.answerable and "3.89" in _quotes(answer)
    assert answer.meta["standalone"] == "河套合作区总面积有多大？"


@pytest.mark.parametrize("question", ["园区有食堂吗？", "有没有停车场？", "深圳今天天气怎么样？"])
def test_a_change_of_subject_is_still_declined(shipped: Assistant, question: str) -> None:
    # Joined to the question before, these would find that question's passages, confidently: its quotes say
    # nothing of canteens, parking or weather, so the joined form is not taken.
    history = [Message("user", "河套合作区总面积有多大？"), Message("assistant", "约3.89平方公里。")]
    joined = shipped._search(question, "zh-Hans", f"河套合作区总面积有多大？ {question}", None)[2]
    assert joined.answerable  # what the guard is there for
    assert not shipped.answer(question, history).answerable


def test_a_time_of_day_asked_after_another_subject_is_declined_by_its_kind(shipped: Assistant) -> None:
    # 几点 asks for a time of day: the area's quotes hold none, so even the joined form does not answer.
    history = [Message("user", "河套合作区总面积有多大？"), Message("assistant", "约3.89平方公里。")]
    joined = shipped._search("食堂几点开门？", "zh-Hans", "河套合作区总面积有多大？ 食堂几点开门？", None)[2]
    assert not joined.answerable and joined.missing == "time"
    assert not shipped.answer("食堂几点开门？", history).answerable

