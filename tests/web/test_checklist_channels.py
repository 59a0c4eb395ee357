"""An eligibility answer's checklist travels in every API channel: a ``checklist`` field of ``/api/v1/ask``, a
``checklist`` event between ``citations`` and ``done`` in the SSE stream, and a Markdown task list under the text
of ``/v1/chat/completions`` (streamed and not), whose clients have no field for it. Also the health routes:
``/readyz`` when the assistant cannot say it is ready, and both answered on the event loop."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.answering.eligibility.render import render_checklist
from assistant.config import Settings
from assistant.data import Answer, ChecklistItem, Citation, Message
from assistant.errors import IndexNotBuiltError
from assistant.testing import FakeAssistant
from assistant.web.api import create_app
from assistant.web.errors import INDEX_NOT_BUILT

CONDITION = "具有香港居民身份。"


def _citation(n: int, quote: str) -> Citation:
    return Citation(n=n, chunk_id=f"c{n}", source="policies.md", title="政策清单", section="二、税收 › P07",
                    quote=quote, start=0, end=len(quote))


class Eligibility(FakeAssistant):
    """Answers every question as an eligibility question with a two-condition checklist."""

    def _answer(self, question: str, history: Sequence[Message]) -> Answer:
        items = (ChecklistItem(CONDITION, "met", _citation(1, CONDITION), "我是香港居民"),
                 ChecklistItem("在园区企业任职。", "unknown", _citation(2, "在园区企业任职。")))
        return Answer(question=question, text=f"摘录：{CONDITION}[1]", lang="zh-Hans", checklist=items,
                      verdict="need_more_info", citations=(_citation(1, CONDITION),), mode="extractive",
                      meta={"office": _citation(9, "某区税务局。"), "conditions_complete": True})


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(Eligibility(), Settings(allowed_hosts=("testserver",)), None))


def test_the_json_answer_carries_the_checklist(client: TestClient) -> None:
    checklist = client.post("/api/v1/ask", json={"question": "能享受吗？"}).json()["checklist"]
    assert checklist["verdict"] == "need_more_info" and checklist["complete"] is True
    assert [(i["condition"], i["status"]) for i in checklist["items"]] == [(CONDITION, "met"),
                                                                            ("在园区企业任职。", "unknown")]
    assert checklist["office"]["quote"] == "某区税务局。" and checklist["labels"]["title"]


def test_the_stream_sends_the_checklist_between_citations_and_done(client: TestClient) -> None:
    text = client.post("/api/v1/ask/stream", json={"question": "能享受吗？"}).text
    events = [(b.split("\n")[0].removeprefix("event: "), json.loads(b.split("data: ", 1)[1]))
              for b in text.split("\n\n") if b.strip()]
    assert [k for k, _ in events][-3:] == ["citations", "checklist", "done"]
    checklist = events[-2][1]
    assert checklist["verdict"] == "need_more_info" and checklist["items"][0]["condition"] == CONDITION


@pytest.mark.parametrize("stream", [False, True])
def test_openai_clients_get_the_checklist_as_a_task_list(client: TestClient, stream: bool) -> None:
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "能享受吗？"}],
                                                  "stream": stream})
    if stream:
        chunks = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
        content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    else:
        content = r.json()["choices"][0]["message"]["content"]
    listed = render_checklist(Eligibility()._answer("能享受吗？", ()))
    assert listed and content.startswith(f"摘录：{CONDITION}[1]") and content.endswith(listed)
    assert content.count(listed) == 1 and "- [x]" in listed


def test_readiness_is_503_with_the_reason_when_the_assistant_cannot_say() -> None:
    class NoIndex(FakeAssistant):
        def info(self) -> dict[str, Any]:
            raise IndexNotBuiltError("no index at index/store — run `park-assistant index` first")

    r = TestClient(create_app(NoIndex(), Settings(allowed_hosts=("testserver",)), None)).get("/readyz")
    assert r.status_code == 503 and r.json()["reason"] == INDEX_NOT_BUILT
    assert r.json()["ready"] is False and r.json()["error"]["code"] == "index_not_built"


def test_health_routes_run_on_the_event_loop() -> None:
    """/healthz and /readyz are coroutines: a sync route waits for a worker thread, and when every worker is busy
    with answers (``test_faults.py`` fills them) the health check would time out and the server be restarted."""
    import asyncio

    from fastapi.routing import APIRoute

    app = create_app(FakeAssistant(), Settings(allowed_hosts=("testserver",)), None)
    endpoints = {r.path: r.endpoint for r in app.routes if isinstance(r, APIRoute)}
    assert asyncio.iscoroutinefunction(endpoints["/healthz"]) and asyncio.iscoroutinefunction(endpoints["/readyz"])
