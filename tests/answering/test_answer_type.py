"""Answer kinds: what a question asks for, whether a sentence states it, and how that steers quoting."""

from __future__ import annotations

import pytest

from assistant.answering.answer_type import asked, holds
from assistant.answering.extractive import select_quotes
from assistant.data import Chunk, Passage


@pytest.mark.parametrize(("question", "kinds"), [
    ("新措施从哪天开始实施？", {"date"}),
    ("When was the outline published?", {"date"}),
    ("項目最多資助多少錢？", {"money", "figure"}),
    ("河套發展署有冇查詢電話？", {"contact"}),
    ("How many ports are there?", {"figure"}),
    ("深圳园区由哪两个片区组成？", set()),
])
def test_asked(question: str, kinds: set[str]) -> None:
    assert asked(question) == kinds


def test_holds() -> None:
    assert holds("自2024年10月1日起施行。", "date") and not holds("具体日期未读到。", "date")
    assert holds("每个项目最高资助500万元。", "money") and not holds("给予资金支持。", "money")
    assert holds("共28方面任务、79条事项。", "figure") and not holds("1. 深圳园区", "figure")  # a list label
    assert holds("官网为 htcz.sz.gov.cn。", "contact") and not holds("请联系河套发展署。", "contact")


def test_a_sentence_stating_the_kind_asked_for_ranks_first() -> None:
    texts = ("条例对科创合作作出规定。", "条例已经施行，自2024年10月1日起。")
    passages = [Passage(Chunk(Chunk.make_id("a.md", t), "a.md", t, 100 * i, 100 * i + len(t), ("条例",), {}), 1.0)
                for i, t in enumerate(texts)]
    terms = {"条例": 1.0}
    plain, _ = select_quotes("条例什么时候施行？", passages, terms, max_quotes=1)
    dated, _ = select_quotes("条例什么时候施行？", passages, terms, max_quotes=1, kinds={"date"}, kind_bonus=0.1)
    assert plain[0].passage_index == 0  # on terms alone the earlier passage wins the tie
    assert dated[0].passage_index == 1  # the one that states a date, when a date is asked for
