"""The report's pass/fail histograms: what each one draws, read off a recording axis instead of the PNG."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from assistant.evaluation import report_charts
from assistant.evaluation.report_charts import confidence_chart, latency_chart

RECORDS = [{"latency_ms": 120.0, "confidence": 0.9}, {"latency_ms": 800.0, "confidence": 0.2},
           {"latency_ms": None, "confidence": None}, {"latency_ms": 300.0, "confidence": 1}]
PASSED = [True, False, True, True]


class RecordingAxis:
    def __init__(self) -> None:
        self.calls: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}

    def __getattr__(self, name: str) -> Callable[..., None]:
        def record(*args: Any, **kwargs: Any) -> None:
            self.calls[name] = (args, kwargs)

        return record


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> RecordingAxis:
    axis = RecordingAxis()
    monkeypatch.setattr(report_charts, "_png", lambda draw, size: (draw(axis), "png")[1])
    return axis


def test_latency_is_stacked_by_outcome_over_the_questions_that_report_it(drawn: RecordingAxis) -> None:
    assert latency_chart(RECORDS, PASSED) == "png"
    (data,), options = drawn.calls["hist"]
    assert data == [[120.0, 300.0], [800.0]] and options["bins"] == 5 and "range" not in options
    assert options["stacked"] and options["label"] == ["pass", "fail"]
    assert drawn.calls["set_xlabel"][0] == ("answer latency (ms)",) and drawn.calls["set_title"][0] == ("Latency",)


def test_confidence_is_stacked_by_outcome_on_zero_to_one(drawn: RecordingAxis) -> None:
    assert confidence_chart(RECORDS, PASSED) == "png"
    (data,), options = drawn.calls["hist"]
    assert data == [[0.9, 1.0], [0.2]] and options["bins"] == 10 and options["range"] == (0, 1)
    assert drawn.calls["set_xlabel"][0] == ("confidence",) and drawn.calls["set_title"][0] == ("Confidence",)
    assert drawn.calls["set_ylabel"][0] == ("questions",) and "legend" in drawn.calls


def test_a_run_that_reports_neither_draws_no_chart(drawn: RecordingAxis) -> None:
    empty = [{"latency_ms": None}]
    assert latency_chart(empty, [True]) is None and confidence_chart(empty, [True]) is None
    assert drawn.calls == {}
