"""Bad requests are refused whole with a 422 that names the field and says what is wrong, before anything runs or
is stored: the feedback endpoint's bounds (reason, answer, citations, confidence, rating, language), the ask
filters' bounds and the OpenAI-compatible request's shape. Nothing half-valid is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.testing import FakeAssistant
from assistant.web.api import create_app
from assistant.web.feedback import FeedbackStore

GOOD = {"question": "合作区面积多大？", "answer": "约3.89平方公里[1]", "rating": "up"}


@pytest.fixture
def store(tmp_path: Path) -> FeedbackStore:
    return FeedbackStore(tmp_path / "feedback.sqlite3")


@pytest.fixture
def client(store: FeedbackStore) -> TestClient:
    return TestClient(create_app(FakeAssistant(), Settings(allowed_hosts=("testserver",)), store))


@pytest.mark.parametrize(("change", "field"), [
    ({"reason": "很" * 1001}, "reason"),
    ({"answer": "答" * 20_001}, "answer"),
    ({"question": ""}, "question"),
    ({"question": "问" * 4001}, "question"),
    ({"citations": [{"n": i} for i in range(51)]}, "citations"),
    ({"confidence": 1.5}, "confidence"),
    ({"confidence": -0.1}, "confidence"),
    ({"rating": "meh"}, "rating"),
    ({"lang": "fr"}, "lang"),
    ({"mode": "m" * 21}, "mode"),
])
def test_feedback_out_of_bounds_is_a_422_naming_the_field_and_nothing_is_stored(
        client: TestClient, store: FeedbackStore, change: dict[str, Any], field: str) -> None:
    r = client.post("/api/v1/feedback", json={**GOOD, **change})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request" and error["message"].startswith(f"Invalid request — {field}")
    assert store.count() == 0
    assert client.post("/api/v1/feedback", json=GOOD).status_code == 201  # the same request, in bounds, is kept


@pytest.mark.parametrize(("filters", "field"), [({"statuses": ["in_force"] * 11}, "filters.statuses"),
                                                ({"scopes": ["both"] * 4}, "filters.scopes"),
                                                ({"sources": ["a.md"] * 51}, "filters.sources"),
                                                ({"kinds": ["policy"] * 11}, "filters.kinds")])
def test_too_many_filter_values_are_a_422_naming_the_filter(client: TestClient, filters: dict[str, Any],
                                                            field: str) -> None:
    r = client.post("/api/v1/ask", json={"question": "面积？", "filters": filters})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith(f"Invalid request — {field}")


@pytest.mark.parametrize(("body", "field"), [({"messages": []}, "messages"),
                                             ({"messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
                                             ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"},
                                              "stream"),
                                             ({"messages": [{"role": "user", "content": "x"}], "lang": "fr"}, "lang")])
def test_a_malformed_chat_completion_request_is_a_422_naming_the_field(client: TestClient, body: dict[str, Any],
                                                                        field: str) -> None:
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 422 and r.json()["error"]["message"].startswith(f"Invalid request — {field}"), r.text
