"""Retrieval's pure parts: score mixing, per-source diversity and the bilingual glossary."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import REPO

from assistant.answering.retrieval import diversify, mix_scores
from assistant.answering.vocabulary import Glossary

SHIPPED_GLOSSARY = REPO / "index" / "glossary.tsv"


# ------------------------------------------------------------------------------------------------ score mixing


def test_mix_scores_normalises_both_sides() -> None:
    mixed = mix_scores(["a", "b", "c"], {"a": 0.9, "b": 0.5, "c": 0.7}, {"a": 0.0, "b": 10.0, "c": 5.0}, 0.3)
    # dense min-max: a 1, b 0, c 0.5; lexical by max: a 0, b 1, c 0.5.
    assert mixed == pytest.approx({"a": 0.3, "b": 0.7, "c": 0.5})
    # Scale does not matter, only position within the candidates.
    scaled = mix_scores(["a", "b", "c"], {"a": 0.09, "b": 0.05, "c": 0.07}, {"a": 0.0, "b": 1.0, "c": 0.5}, 0.3)
    assert scaled == pytest.approx(mixed)
    assert mix_scores([], {}, {}, 0.5) == {}


def test_mix_scores_degenerate_sides() -> None:
    # Equal cosines: the dense side does not discriminate (everyone gets its full share).
    same = mix_scores(["a", "b"], {"a": 0.8, "b": 0.8}, {"a": 4.0, "b": 2.0}, 0.5)
    assert same == pytest.approx({"a": 1.0, "b": 0.75})
    # No lexical match anywhere: no division by zero.
    assert mix_scores(["a", "b"], {"a": 0.8, "b": 0.6}, {}, 0.5) == pytest.approx({"a": 0.5, "b": 0.0})


def test_mix_scores_missing_dense_score_counts_as_the_lowest_and_leaves_others_alone() -> None:
    dense = {"a": 0.9, "b": 0.8}
    lexical = {"a": 1.0, "b": 2.0, "c": 4.0}
    both = mix_scores(["a", "b"], dense, lexical, 0.5)
    with_missing = mix_scores(["a", "b", "c"], dense, lexical, 0.5)
    assert with_missing["c"] == pytest.approx(0.5 * 0 + 0.5 * 1.0)  # lowest dense share, best lexical
    # A candidate without a cosine must not squash the others' dense spread (0.8 vs 0.9 stays 0 vs 1).
    assert with_missing["a"] - 0.5 * 1.0 / 4.0 == pytest.approx(both["a"] - 0.5 * 1.0 / 2.0)
    assert with_missing["b"] == pytest.approx(0.5 * 0.0 + 0.5 * 2.0 / 4.0)
    # With a single cosine known, the candidate without one still gets the lowest dense share.
    assert mix_scores(["a", "c"], {"a": 0.9}, {}, 0.5) == pytest.approx({"a": 0.5, "c": 0.0})


# ------------------------------------------------------------------------------------------------ diversify


def _source(item: str) -> str:
    return item.split(":")[0]


RANKED = [("plan:1", 0.9), ("plan:2", 0.8), ("plan:3", 0.7), ("policy:1", 0.6), ("plan:4", 0.5), ("news:1", 0.4)]


def test_diversify_caps_each_source() -> None:
    picked = diversify(RANKED, _source, k=4, max_per_source=2)
    assert [i for i, _ in picked] == ["plan:1", "plan:2", "policy:1", "news:1"]
    # Scores travel unchanged and the order stays by rank among the picked.
    assert dict(picked)["policy:1"] == 0.6


def test_diversify_fills_from_deferred_when_sources_run_out() -> None:
    picked = diversify(RANKED, _source, k=5, max_per_source=2)
    assert [i for i, _ in picked] == ["plan:1", "plan:2", "policy:1", "news:1", "plan:3"]
    assert len(diversify(RANKED, _source, k=10, max_per_source=1)) == len(RANKED)


def test_diversify_without_cap_is_a_plain_cut() -> None:
    assert diversify(RANKED, _source, k=3, max_per_source=None) == RANKED[:3]
    assert diversify(RANKED, _source, k=3, max_per_source=0) == RANKED[:3]
    assert diversify([], _source, k=3, max_per_source=2) == []


# ------------------------------------------------------------------------------------------------- glossary


@pytest.fixture
def glossary(tmp_path: Path) -> Glossary:
    path = tmp_path / "glossary.tsv"
    path.write_text(
        "# english<TAB>中文\n"
        "park\t园区\n"
        "shenzhen\t深圳\n"
        "shenzhen park\t深圳园区\n"
        "port\t口岸\n"
        "huanggang port area\t皇岗口岸片区|口岸\n"
        "area\t面积\n"
        "面积\t平方公里\n"
        "多大\t面积|平方公里\n"
        "talent\t人才  # trailing comment\n"
        "ai\t人工智能\n"
        "2035\t2035年\n"
        "rent\t租金\n"
        "no tab on this line\n"
        "empty\t\n"
        "\t孤儿\n",
        encoding="utf-8",
    )
    return Glossary.load(path)


def test_glossary_longest_phrase_first_and_consumed(glossary: Glossary) -> None:
    assert glossary.expand("Where is the Shenzhen park?") == ["深圳园区"]
    # "area" inside the longer phrase is consumed with it: no 面积.
    assert glossary.expand("Which ports are in the Huanggang port area?") == ["皇岗口岸片区", "口岸"]
    assert "深圳" not in glossary.expand("shenzhen park") and "园区" not in glossary.expand("shenzhen park")


def test_glossary_whole_words_plural_hyphen_and_case(glossary: Glossary) -> None:
    assert glossary.expand("How many PORTS?") == ["口岸"]
    assert glossary.expand("shenzhen-park") == ["深圳园区"]
    assert sorted(glossary.expand("parks in shenzhen")) == sorted(["园区", "深圳"])
    assert glossary.expand("airport sports") == []  # inside other words: no match
    assert glossary.expand("Shenzhenpark") == []


def test_glossary_english_words_in_a_chinese_question(glossary: Glossary) -> None:
    # Chinese characters are word characters to \\b: the English said inside Chinese still matches.
    assert glossary.expand("我们是做AI大模型的") == ["人工智能"]
    assert glossary.expand("深圳park") == ["园区"]
    assert glossary.expand("paint talents") == ["人才"] and glossary.expand("aim") == []  # not inside a word
    # A year is already said in the Chinese around it; in English it is a word of its own.
    assert glossary.expand("到2035年") == [] and glossary.expand("by 2035,") == ["2035年"]


def test_a_glossary_phrase_the_sources_never_use_leaves_the_word_unmatched(glossary: Glossary) -> None:
    def known(term: str) -> bool:
        return term in {"人工智能", "园区"}

    assert glossary.unmatched("rent of the park") == 0.0
    assert glossary.reaching(known).unmatched("rent of the park") == 0.5  # 租金: no source says it
    assert glossary.reaching(known).unmatched("园区的rent是多少") == 1.0
    assert glossary.reaching(known).unmatched("parking rent") == 1.0


def test_glossary_chinese_synonym_keys_and_second_pass(glossary: Glossary) -> None:
    # A Chinese key matches as a substring of a Chinese question.
    assert glossary.expand("合作区有多大？") == ["面积", "平方公里"]
    # English area → 面积, and the Chinese key 面积 then brings 平方公里 (second pass over expanded terms).
    assert glossary.expand("What is the area?") == ["面积", "平方公里"]
    # Terms are listed once.
    assert glossary.expand("area 多大") == ["面积", "平方公里"]


def test_glossary_ignores_comments_and_malformed_lines(glossary: Glossary, tmp_path: Path) -> None:
    assert glossary.expand("talent") == ["人才"]
    assert glossary.expand("empty no tab on this line") == []
    assert "孤儿" not in glossary.expand("孤儿 anything")
    assert Glossary.load(None).expand("shenzhen park") == []
    assert Glossary.load(tmp_path / "absent.tsv").expand("shenzhen park") == []


def test_shipped_glossary() -> None:
    g = Glossary.load(SHIPPED_GLOSSARY)
    assert len(g.entries) > 50
    shenzhen = g.expand("How large is the Shenzhen park?")
    assert shenzhen[0] == "深圳园区" and "面积" in shenzhen
    assert "深圳" not in shenzhen and "园区" not in shenzhen  # the phrase was consumed whole
    assert g.expand("Hong Kong parks") == ["香港园区"]
    assert g.expand("lok ma chau loop")[0] == "落马洲河套"
    assert "人才" in g.expand("tax incentives for talents")
    assert "面积" in g.expand("What is the area of the zone?") and "合作区" in g.expand("What is the area of the zone?")
    assert g.expand("What is the area of the zone?").count("面积") == 1
    assert g.expand("zzz qqq") == []
