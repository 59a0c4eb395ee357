"""A clause the question says it is not asking about (不是问…, 除了…, "Not the … - I mean …") steers
neither retrieval nor quote choice nor the answer kind; a plain negation is part of what is asked."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import REPO, make_fake_index

from assistant.answering.exclusion import without_excluded
from assistant.answering.query import QueryParser
from assistant.answering.vocabulary import Colloquial, Glossary
from assistant.testing import FakeEmbedder
from assistant.wiring import build_assistant


@pytest.mark.parametrize(("question", "kept", "excluded"), [
    ("这个规划是哪个部委牵头起草的？不是问谁印发的", "这个规划是哪个部委牵头起草的？", ("谁印发的",)),
    ("除了半小时科研圈，合作区还和哪些城市组成了一小时的产业圈？", "，合作区还和哪些城市组成了一小时的产业圈？",
     ("半小时科研圈",)),
    ("除了深圳以外还有哪些城市", "还有哪些城市", ("深圳",)),
    ("Not the 2025/2035 targets - I mean the two overall objectives. What are they?",
     "- I mean the two overall objectives. What are they?", ("the 2025/2035 targets",)),
    ("Other than the tax exemption, what support is there?", ", what support is there?", ("the tax exemption",)),
    ("I'm not asking about the tax, what about housing?", "I'm , what about housing?", ("the tax",)),
])
def test_the_clause_not_asked_about_is_set_apart(question: str, kept: str, excluded: tuple[str, ...]) -> None:
    assert without_excluded(question) == (kept, excluded)


@pytest.mark.parametrize("question", [
    "哪些货物不是免税的？",  # a negation that is the question itself
    "Which goods are not allowed?",
    "Is the park not open yet?",
    "是不是要备案",
    "不说了，园区面积多大",
    "除了",  # nothing would be left
    "Not the tax.",
])
def test_a_plain_negation_is_part_of_the_question(question: str) -> None:
    assert without_excluded(question) == (question, ())


class Stats:
    def idf(self, term: str) -> float:
        return 1.0

    def known(self, term: str) -> bool:
        return True

    def vocabulary(self) -> list[str]:
        return []


def test_excluded_words_weigh_nothing_and_do_not_decide_the_answer_kind() -> None:
    parser = QueryParser(Glossary.load(REPO / "index" / "glossary.tsv"), Stats(),
                         Colloquial.load(REPO / "index" / "colloquial.tsv"))
    q = parser.parse("规划是哪个部委牵头起草的？唔係問邊個印發")  # Cantonese 唔係問 is read as 不是问
    assert q.excluded == ("哪个印发",) and "印发" not in q.terms and "印发" not in q.text
    assert "牵头" in q.terms and q.simplified.endswith("印发")  # the question as asked is kept
    years = parser.parse("Not the 2025 targets - I mean the overall objectives?")
    assert "2025" not in years.asked and "2025" not in years.terms


DOC = """# 《河套测试规划》要点

## 文件概况

- 印发：国务院以国发〔2099〕1号通知印发《河套测试规划》。
- 起草：《河套测试规划》由国家测试委员会牵头起草。
"""


def test_the_sentence_about_what_is_not_asked_is_not_quoted_first(tmp_path: Path) -> None:
    source = tmp_path / "plan.md"
    source.write_text(DOC, encoding="utf-8")
    assistant = build_assistant(make_fake_index(tmp_path / "index", source), embedder=FakeEmbedder())
    answer = assistant.answer("《河套测试规划》是谁牵头起草的？不是问谁印发的")
    assert answer.answerable and "国家测试委员会" in answer.citations[0].quote
    assert "国发〔2099〕1号" not in answer.citations[0].quote


def test_a_year_the_question_sets_aside_is_not_one_the_quotes_must_state(tmp_path: Path) -> None:
    source = tmp_path / "plan.md"
    source.write_text(DOC + "- 进展：2025年已有12家科研机构使用园区测试服务。\n", encoding="utf-8")
    assistant = build_assistant(make_fake_index(tmp_path / "index", source), embedder=FakeEmbedder())
    answer = assistant.answer("现在有多少家科研机构使用园区测试服务？不是问2030年的目标")
    assert answer.answerable and "12家" in answer.text
