"""The Query object: every normalised form of a question, built once by QueryParser."""

from __future__ import annotations

import dataclasses

import pytest
from support import REPO

from assistant.answering.query import Glossary, Query, QueryParser
from assistant.knowledge.lexical import load_user_dict


class Stats:
    """Term statistics of a pretend corpus: the words it uses, all with IDF 1 (unseen ones 3)."""

    def __init__(self, words: set[str]) -> None:
        self.words = words

    def idf(self, term: str) -> float:
        return 1.0 if term in self.words else 3.0

    def known(self, term: str) -> bool:
        return term in self.words


@pytest.fixture(scope="module")
def parser() -> QueryParser:
    load_user_dict(REPO / "index" / "park_terms.txt")
    return QueryParser(Glossary.load(REPO / "index" / "glossary.tsv"), Stats({"合作区", "面积", "深圳园区", "口岸"}))


def test_traditional_question_is_folded_once_and_keeps_its_language(parser: QueryParser) -> None:
    q = parser.parse("深圳園區的面積是多少？")
    assert q.lang == "zh-Hant" and q.original == q.standalone == "深圳園區的面積是多少？"
    assert q.simplified == "深圳园区的面积是多少？" and q.text.startswith(q.simplified)
    assert "平方公里" in q.expansion  # a Chinese synonym key of the glossary (面积 → 平方公里)
    assert {"深圳园区", "面积"} <= set(q.terms) and not q.latin


def test_english_question_is_expanded_through_the_glossary(parser: QueryParser) -> None:
    q = parser.parse("How large is the zone's area?")
    assert q.lang == "en" and q.latin
    assert "面积" in q.expansion and q.text.endswith(" ".join(q.expansion))
    assert "面积" in q.terms and "large" not in q.terms  # unknown Latin words are matched through the glossary


def test_standalone_form_drives_text_and_terms_the_original_is_kept(parser: QueryParser) -> None:
    q = parser.parse("那口岸呢？", standalone="合作区有哪些口岸 那口岸呢？")
    assert q.original == "那口岸呢？" and q.standalone.startswith("合作区")
    assert "合作区" in q.terms and "合作区" in q.text


def test_explicit_language_wins_and_the_query_is_frozen(parser: QueryParser) -> None:
    q = parser.parse("合作区面积", lang="en")
    assert isinstance(q, Query) and q.lang == "en"
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.lang = "zh-Hans"  # type: ignore[misc]
