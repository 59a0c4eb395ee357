"""The [n] citation convention: parsing, stripping, renumbering, citations with quotes, claim verification."""

from __future__ import annotations

import pytest

from assistant.answering.citations import (
    figures,
    make_citation,
    parse_markers,
    renumber,
    strip_unknown_markers,
    verify_claims,
)
from assistant.data import Chunk, Passage

BODY_PREFIX = "## 一、序言\n\n"
AREA = "6. 面积：合作区共约3.89平方公里。其中深圳园区3.02平方公里；香港园区0.87平方公里。"
PORTS = "8. 口岸：区内有福田口岸和皇岗口岸两个陆路口岸。"
DOC_NO = "国务院以国发〔2023〕12号通知印发本规划，规划期限到2035年。"


def _passage(text: str, start: int = 0, source: str = "plan.md", **meta: str) -> Passage:
    section = ("规划要点", "一、序言", "6.")
    chunk = Chunk(id=Chunk.make_id(source, text, section), source=source, text=text, start=start,
                  end=start + len(text), section=section, meta={"title": "规划要点", **meta})
    return Passage(chunk=chunk, score=1.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("面积约3.89平方公里[1][2]。", [1, 2]),
        ("面积约3.89平方公里[1, 2]。", [1, 2]),
        ("面积约3.89平方公里[1，2]。", [1, 2]),
        ("面积约3.89平方公里[1、2]。", [1, 2]),
        ("见[12]。", [12]),
        ("先[2]后[1]，再[2][3]。", [2, 1, 3]),
        ("数组[a]和[1a]和[]都不是标记。", []),
        ("年份 2035 不是标记。", []),
    ],
)
def test_parse_markers(text: str, expected: list[int]) -> None:
    assert parse_markers(text) == expected


def test_strip_unknown_markers() -> None:
    assert strip_unknown_markers("面积[1]，口岸[9]。", 2) == "面积[1]，口岸。"
    assert strip_unknown_markers("见[1, 9]和[2，3]。", 2) == "见[1]和[2]。"
    assert strip_unknown_markers("见[0]。", 2) == "见。"
    assert strip_unknown_markers("全部[1][2]。", 2) == "全部[1][2]。"
    assert parse_markers(strip_unknown_markers("a[3]b[1]c[4, 2]", 2)) == [1, 2]


def test_renumber() -> None:
    assert renumber("甲[3]。乙[1]。丙[3]。", {3: 1, 1: 2}) == "甲[1]。乙[2]。丙[1]。"
    # A grouped marker becomes separate markers; numbers not in the mapping disappear.
    assert renumber("甲[3, 1]。乙[2]。", {3: 1, 1: 2}) == "甲[1][2]。乙。"
    assert renumber("无标记。", {1: 1}) == "无标记。"


def test_make_citation_quote_and_offsets() -> None:
    start = len(BODY_PREFIX)
    p = _passage(AREA, start=start, doc_no="国发〔2023〕12号", date="2023-08-08", issuer="国务院", url="")
    sentence = "6. 面积：合作区共约3.89平方公里。"
    c = make_citation(2, p, (start, start + len(sentence)))
    assert (c.n, c.chunk_id, c.source) == (2, p.chunk.id, "plan.md")
    assert c.quote == sentence
    assert (c.start, c.end) == (start, start + len(sentence))
    assert (BODY_PREFIX + AREA)[c.start : c.end] == c.quote  # offsets point into the document body
    assert c.passage_text == AREA
    # The section path leaves out the document's own heading: the title already says it.
    assert c.title == "规划要点" and c.section == "一、序言 › 6."
    assert (c.doc_no, c.date, c.issuer, c.url) == ("国发〔2023〕12号", "2023-08-08", "国务院", None)
    assert c.verified
    # A quote inside the chunk, not at its start.
    inner = AREA.index("其中")
    c2 = make_citation(1, p, (start + inner, start + inner + len("其中深圳园区3.02平方公里")), verified=False)
    assert c2.quote == "其中深圳园区3.02平方公里" and not c2.verified
    # Without a span the whole passage is the quote.
    whole = make_citation(1, p)
    assert whole.quote == AREA and (whole.start, whole.end) == (p.chunk.start, p.chunk.end)
    # A chunk directly under the title keeps the title as its section.
    top = Chunk(id="x", source="plan.md", text="前言。", start=0, end=3, section=("规划要点",))
    assert make_citation(1, Passage(top, 1.0)).section == "规划要点"


def test_figures_normalisation() -> None:
    assert figures("合作区共约3.89平方公里") == {"3.89"}
    assert figures("投入1,000万元，增长15%") == {"1000", "15%"}
    assert figures("国发〔2023〕12号") == {"〔2023〕12号"}
    assert figures("國發[2023]12號") == {"〔2023〕12号"}  # brackets and Traditional folded
    assert figures("到2035年") == {"2035"}
    assert figures("没有数字") == set()


def test_verify_claims_supported_and_unsupported() -> None:
    passages = [_passage(AREA), _passage(PORTS, start=200)]
    checks = verify_claims("合作区共约3.89平方公里[1]。合作区共约4.5平方公里[1]。", passages)
    assert [c.supported for c in checks] == [True, False]
    assert checks[0].cited == (1,) and checks[0].missing_figures == ()
    assert checks[1].missing_figures == ("4.5",)


def test_verify_claims_checks_the_cited_passage_not_any_passage() -> None:
    passages = [_passage(AREA), _passage(PORTS, start=200)]
    # 3.89 is in passage 1, but this sentence cites passage 2.
    wrong = verify_claims("合作区共约3.89平方公里[2]。", passages)
    assert wrong[0].supported is False and wrong[0].missing_figures == ("3.89",)
    # Citing both is fine: one of them has it.
    both = verify_claims("合作区共约3.89平方公里，有两个口岸[1][2]。", passages)
    assert both[0].supported and both[0].cited == (1, 2)


def test_verify_claims_marker_past_the_passages() -> None:
    passages = [_passage(AREA), _passage(PORTS, start=200)]
    checks = verify_claims("合作区共约3.89平方公里[9]。", passages)
    assert checks[0].cited == ()
    assert checks[0].supported is False
    # Without a figure, an uncited sentence passes (nothing to check), as documented.
    assert verify_claims("这是一个说明[9]。", passages)[0].supported is True


def test_verify_claims_document_numbers_and_traditional_text() -> None:
    passages = [_passage(DOC_NO)]
    assert verify_claims("规划以國發〔2023〕12號印发[1]。", passages)[0].supported
    assert not verify_claims("规划以国发〔2023〕13号印发[1]。", passages)[0].supported
    assert verify_claims("規劃期限到2035年[1]。", passages)[0].supported


def test_verify_claims_english_sentences() -> None:
    passages = [_passage(AREA)]
    checks = verify_claims("The zone covers about 3.89 km2 [1]. The Hong Kong park is 0.9 km2 [1].", passages)
    assert [c.supported for c in checks] == [True, False]
    assert checks[1].missing_figures == ("0.9",)


def test_verify_claims_marker_after_the_full_stop_belongs_to_that_sentence() -> None:
    """The system prompt asks for a marker *after* every sentence, so models write 「…平方公里。[1]」.

    That marker cites the sentence before it; it must not leave that sentence uncited (and so dropped as
    unsupported) while a later sentence inherits it.
    """
    passages = [_passage(AREA), _passage(PORTS, start=200)]
    checks = verify_claims("合作区共约3.89平方公里。[1]区内有两个陆路口岸。[2]", passages)
    area = next(c for c in checks if "3.89" in c.sentence)
    assert area.cited == (1,)
    assert all(c.supported for c in checks)
