"""Homophone typos read as the corpus word meant."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import REPO

from assistant.answering.typos import Homophones, sound
from assistant.knowledge.lexical import is_dictionary_word


def test_sound_folds_the_usual_input_method_slips() -> None:
    assert sound("申请") == sound("申亲") == ("sen", "qin")
    assert sound("时候") == sound("时侯")
    assert sound("面积") != sound("面试")


@pytest.mark.parametrize(("word", "meant"), [("申亲", "申请"), ("面基", "面积"), ("海观", "海关")])
def test_an_unknown_word_with_one_homophone_in_the_corpus_is_read_as_it(word: str, meant: str) -> None:
    homophones = Homophones(["申请", "面积", "海关", "口岸"], is_dictionary_word)
    assert homophones.correct(word) == meant


def test_known_words_ambiguous_sounds_and_other_scripts_are_left_alone() -> None:
    # 知道 is a dictionary word: never "corrected" to the corpus' 指导.
    assert Homophones(["指导"], is_dictionary_word).correct("知道") is None
    # Two corpus words sound like it: no guess.
    assert Homophones(["实施", "事实", "时势"], lambda w: False).correct("时事") is None
    assert Homophones(["GDP"], lambda w: False).correct("gdp") is None
    assert Homophones(["申请"], lambda w: False).correct("申请") is None  # the word itself


def test_the_table_is_built_once_and_only_when_needed() -> None:
    calls: list[int] = []

    def vocabulary() -> list[str]:
        calls.append(1)
        return ["申请"]

    homophones = Homophones(vocabulary, lambda w: False)
    assert calls == []
    assert homophones.correct("申亲") == "申请" and homophones.correct("申亲") == "申请"
    assert calls == [1]


def test_the_parser_reads_a_typo_as_the_word_meant_before_search_and_weighting() -> None:
    from assistant.answering.query import QueryParser
    from assistant.answering.vocabulary import Glossary

    class Stats:
        def idf(self, term: str) -> float:
            return 2.0

        def known(self, term: str) -> bool:
            return term in {"申请", "个税"}

        def vocabulary(self) -> list[str]:
            return ["申请", "个税"]

    parser = QueryParser(Glossary(), Stats(), correct={"申亲": "申请"}.get)
    query = parser.parse("个税怎么申亲")
    assert "申请" in query.text and "申亲" not in query.text
    assert "申请" in query.terms and "申亲" not in query.terms
    assert query.original == "个税怎么申亲"  # what was asked is kept as asked
    assert "申亲" in QueryParser(Glossary(), Stats()).parse("个税怎么申亲").terms


def test_warm_up_builds_the_sound_table_before_the_first_question(tmp_path: Path) -> None:
    from support import make_fake_index

    from assistant.testing import FakeEmbedder
    from assistant.wiring import build_assistant

    settings = make_fake_index(tmp_path, REPO / "tests" / "data" / "sources" / "plan-excerpt.md")
    assistant = build_assistant(settings, embedder=FakeEmbedder())
    assert assistant.homophones._by_sound is None
    assistant.warm_up(wait=True)
    assert assistant.homophones._by_sound
