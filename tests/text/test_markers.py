"""The one citation-marker grammar, shared by the answerer, the evaluator, the judge and the web chat."""

from __future__ import annotations

from assistant.answering.citations import parse_markers, renumber, strip_unknown_markers
from assistant.text.markers import marker_numbers, rewrite_markers, strip_markers
from assistant.web.ui import render_text


def test_forms_of_several_numbers() -> None:
    text = "面积[1, 2]。口岸[3，4]，片区[5、1]。"
    assert marker_numbers(text) == [1, 2, 3, 4, 5]
    assert strip_markers(text) == "面积。口岸，片区。"


def test_not_markers() -> None:
    assert marker_numbers("国发〔2023〕12号 [a] [1234] [] x[1.5]") == []


def test_every_consumer_uses_the_same_grammar() -> None:
    text = "税率15%[1，2]。"
    assert parse_markers(text) == [1, 2]
    assert strip_unknown_markers(text, 1) == "税率15%[1]。"
    assert renumber(text, {2: 1}) == "税率15%[1]。"
    assert render_text(text).count('<sup class="hp-sup">') == 2
    assert rewrite_markers(text, lambda ns: "") == strip_markers(text)
