"""Language detection and Traditional/Simplified conversion."""

from __future__ import annotations

import pytest

from assistant.lang import detect_lang, normalize_for_match, to_simplified, to_traditional


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("深圳园区实行什么管理模式？", "zh-Hans"),
        ("合作区总面积有多大？", "zh-Hans"),
        ("深圳園區實行甚麼管理模式？", "zh-Hant"),
        ("香港園區面積多大？", "zh-Hant"),
        ("人才簽注怎麼辦理", "zh-Hant"),
        ("How large is the Shenzhen park?", "en"),
        ("What is the Hetao zone?", "en"),
        # Mixed: a Chinese term inside an English question is still English …
        ("What does 一线放开 mean for research materials?", "en"),
        # … and Latin acronyms inside a Chinese question do not make it English.
        ("河套合作区的GDP目标是多少？", "zh-Hans"),
        ("河套合作區的GDP目標是多少？", "zh-Hant"),
        ("2035年目标", "zh-Hans"),
        ("", "zh-Hans"),
        ("12345 ？", "zh-Hans"),
    ],
)
def test_detect_lang(text: str, lang: str) -> None:
    assert detect_lang(text) == lang


def test_to_simplified_folds_traditional_and_hong_kong_variants() -> None:
    assert to_simplified("河套合作區深圳園區") == "河套合作区深圳园区"
    assert to_simplified("一綫放開、二綫管住") == "一线放开、二线管住"  # HK variant 綫 as well as 線
    assert to_simplified("一線放開") == "一线放开"
    assert to_simplified("Hetao zone 3.89") == "Hetao zone 3.89"
    text = "合作區共約3.89平方公里，其中深圳園區3.02平方公里。"
    assert len(to_simplified(text)) == len(text)  # offsets stay valid


def test_to_traditional_hong_kong_standard() -> None:
    assert to_traditional("河套合作区深圳园区") == "河套合作區深圳園區"
    assert to_traditional("一线放开") in ("一綫放開", "一線放開")
    assert to_simplified(to_traditional("皇岗口岸片区面积1.67平方公里")) == "皇岗口岸片区面积1.67平方公里"


def test_normalize_for_match() -> None:
    assert normalize_for_match(" 河套 合作區\t3.89 平方公里\n") == "河套合作区3.89平方公里"
    assert normalize_for_match("Hetao ZONE") == "hetaozone"
    assert normalize_for_match("合作區") == normalize_for_match("合作区")


def test_hong_kong_question_words_fold_to_their_mainland_forms() -> None:
    assert to_simplified("有甚麼海關便利？") == "有什么海关便利？"
    assert to_simplified("面積有幾多？邊個負責？") == "面积有多少？哪个负责？"
    assert len(to_simplified("點樣申請")) == len("點樣申請")
