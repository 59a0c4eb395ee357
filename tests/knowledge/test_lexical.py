"""BM25 over jieba tokens: tokenisation (folding, decimals, stopwords, park terms), ranking, masks, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import REPO

from assistant.knowledge.lexical import STOPWORDS, BM25Index, DocFrequencies, load_user_dict, tokenize

PARK_TERMS = REPO / "index" / "park_terms.txt"


@pytest.fixture(scope="module")
def park_terms() -> list[str]:
    load_user_dict(PARK_TERMS)
    return [t for line in PARK_TERMS.read_text(encoding="utf-8").splitlines()
            if (t := line.split("#", 1)[0].strip())]


def test_tokenize_folds_traditional_to_simplified() -> None:
    trad = tokenize("河套合作區深圳園區總面積")
    simp = tokenize("河套合作区深圳园区总面积")
    assert trad == simp
    assert "园区" in trad and "面积" in trad
    assert not any(ch in "".join(trad) for ch in "區園積")


def test_tokenize_keeps_decimals_whole_and_lowercases_latin() -> None:
    tokens = tokenize("合作区共约3.89平方公里，The Shenzhen Park")
    assert "3.89" in tokens
    assert "89" not in tokens
    assert "shenzhen" in tokens and "park" in tokens and "The" not in tokens
    assert "0.87" in tokenize("香港园区0.87平方公里")


def test_tokenize_drops_stopwords_and_punctuation() -> None:
    tokens = tokenize("请问深圳园区的管理模式是什么？")
    assert "深圳" in tokens and "管理" in tokens
    assert not {"请问", "的", "是", "什么", "？"} & set(tokens)
    assert tokenize("What is the area of the zone?") == ["area", "zone"]
    kept = tokenize("什么是合作区", drop_stopwords=False)
    assert "什么" in kept and "是" in kept
    assert all(t not in STOPWORDS for t in tokenize("哪些企业可以申请补贴？"))


def test_park_terms_survive_as_units(park_terms: list[str]) -> None:
    for text, term in [("皇岗口岸片区的功能定位", "皇岗口岸片区"), ("实行一线放开、二线管住", "一线放开"),
                       ("实行一线放开、二线管住", "二线管住"), ("科研物资白名单制度", "白名单"),
                       ("科研物资白名单制度", "科研物资"), ("河套深港科技创新合作区深圳园区", "河套深港科技创新合作区"),
                       ("香港高端人才个人所得税补贴", "个人所得税")]:
        assert term in park_terms
        assert term in tokenize(text), (text, term)
    # Traditional text reaches the same unit.
    assert "皇岗口岸片区" in tokenize("皇崗口岸片區")


def test_load_user_dict_tolerates_missing_file(tmp_path: Path) -> None:
    load_user_dict(None)
    load_user_dict(tmp_path / "absent.txt")  # no error: the dictionary is optional


def _index() -> BM25Index:
    docs = [
        ["河套", "园区", "面积", "公里"],  # 0: common term only
        ["河套", "园区", "人才", "签注"],  # 1: common + rare
        ["人才", "公寓", "补贴", "申请"],  # 2: rare only
        ["河套", "口岸", "通关", "查验"],  # 3
        ["河套", "规划", "目标", "阶段"],  # 4
    ]
    return BM25Index.build(docs)


def test_bm25_ranks_the_rarer_matching_term_higher() -> None:
    index = _index()
    scores = index.scores(["河套", "人才"])
    # Same length; doc 2 matches only the rare term, doc 0 only the common one.
    assert scores[2] > scores[0] > 0
    # Both terms beat either alone.
    assert scores[1] > scores[2]
    assert index.idf("人才") > index.idf("河套")
    assert [i for i, _ in index.top(["河套", "人才"], 2)] == [1, 2]


def test_bm25_no_match_and_unknown_terms() -> None:
    index = _index()
    assert index.top(["不存在"], 3) == []
    assert np.all(index.scores([]) == 0)
    # Only documents with a positive score come back, however large k.
    assert {i for i, _ in index.top(["人才"], 10)} == {1, 2}
    # Unseen terms are the most specific.
    assert index.idf("不存在") > max(index.idf(t) for t in index.vocab)
    # Repeating a query term does not count it twice.
    assert np.allclose(index.scores(["人才", "人才"]), index.scores(["人才"]))


def test_bm25_top_respects_a_mask() -> None:
    index = _index()
    mask = np.array([True, False, True, True, True])
    top = index.top(["河套", "人才"], 5, mask=mask)
    assert 1 not in [i for i, _ in top]
    assert top[0][0] == 2
    scores = dict(top)
    assert all(s > 0 for s in scores.values())
    assert index.top(["人才"], 5, mask=np.array([True, False, False, True, True])) == []


def test_bm25_save_load_round_trip(tmp_path: Path) -> None:
    index = _index()
    index.save(tmp_path / "lex")
    loaded = BM25Index.load(tmp_path / "lex")
    for query in (["河套", "人才"], ["口岸", "通关"], ["补贴"], ["缺席"]):
        assert np.array_equal(loaded.scores(query), index.scores(query))
        assert loaded.top(query, 3) == index.top(query, 3)
    assert loaded.n_docs == index.n_docs and loaded.vocab == index.vocab
    assert loaded.idf("人才") == index.idf("人才")


def test_bm25_on_real_tokens_prefers_the_matching_passage(park_terms: list[str]) -> None:
    texts = ["合作区共约3.89平方公里，其中深圳园区3.02平方公里。",
             "区内有福田口岸和皇岗口岸两个陆路口岸。",
             "对符合条件的香港高端人才给予个人所得税补贴。"]
    index = BM25Index.build([tokenize(t) for t in texts])
    assert index.top(tokenize("合作區面積3.89平方公里是多少？"), 1)[0][0] == 0
    assert index.top(tokenize("有哪些口岸？"), 1)[0][0] == 1
    assert index.top(tokenize("个人所得税补贴"), 1)[0][0] == 2


def test_doc_frequencies_idf_ordering_and_unseen_max(tmp_path: Path) -> None:
    df = DocFrequencies.build([["河套", "面积"], ["河套", "人才"], ["河套"], ["口岸", "人才"]])
    assert df.n_docs == 4 and df.df["河套"] == 3 and df.df["人才"] == 2
    assert df.idf("口岸") > df.idf("人才") > df.idf("河套") > 0
    assert df.idf("从未出现") > df.idf("口岸")
    assert "人才" in df and "从未出现" not in df
    df.save(tmp_path)
    again = DocFrequencies.load(tmp_path)
    assert again.df == df.df and again.n_docs == 4
    assert again.idf("人才") == df.idf("人才")


def test_doc_frequencies_count_a_term_once_per_document() -> None:
    df = DocFrequencies.build([["河套", "河套", "河套"], ["口岸"]])
    assert df.df["河套"] == 1
