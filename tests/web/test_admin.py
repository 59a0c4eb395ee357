"""The admin API: off without PARK_ADMIN_TOKEN (404), 401 without the token, 200 with it; uploads validated
and size-limited; gaps grouped by meaning; feedback with build and confidence; CSV exports. Then the whole
path against a real server over a real index embedded with the real e5 model: upload a Markdown file and a
PDF → job done → questions answered from each with citations carrying the new document's title and
metadata (an expired one marked expired) → delete → no longer cited.

Run: .venv/bin/pytest tests/web/test_admin.py
"""

from __future__ import annotations

import csv
import hmac
import io
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from support import make_tiny_settings, serve_app

from assistant.config import Settings
from assistant.testing import FakeAssistant, FakeEmbedder
from assistant.web.admin import AdminTools
from assistant.web.api import create_app
from assistant.web.feedback import FeedbackStore
from assistant.web.jobs import IndexJobs
from assistant.web.questions import QuestionLog, group_gaps
from assistant.web.server import UVICORN_OPTIONS

TOKEN = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Builds:
    """A stand-in for the index build: records calls, reports progress, may fail."""

    def __init__(self, fail: bool = False) -> None:
        self.calls, self.fail = 0, fail

    def __call__(self, progress: Any) -> Any:
        self.calls += 1
        progress(1, 2)
        if self.fail:
            raise RuntimeError("disk full")
        return type("Report", (), {"build_id": f"build-{self.calls}"})()


def make_client(tmp_path: Path, token: str | None = TOKEN, builds: Builds | None = None,
                **changes: Any) -> tuple[TestClient, Settings, QuestionLog]:
    settings = make_tiny_settings(tmp_path, admin_token=token, allowed_hosts=("testserver",), **changes)
    questions = QuestionLog(settings.feedback_db)
    tools = AdminTools(IndexJobs(builds or Builds()), lambda texts: FakeEmbedder().embed(texts, "query"))
    app = create_app(FakeAssistant(), settings, FeedbackStore(settings.feedback_db), questions, tools)
    return TestClient(app), settings, questions


ROUTES = [("GET", "/api/v1/admin/documents"), ("GET", "/api/v1/admin/gaps"), ("GET", "/api/v1/admin/feedback"),
          ("GET", "/api/v1/admin/jobs/abc"), ("DELETE", "/api/v1/admin/documents/abc"),
          ("POST", "/api/v1/admin/documents")]
UPLOAD = {"file": ("rule.md", "# 办法\n\n第一条 测试。\n".encode(), "text/markdown")}


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_off_without_a_token_404(tmp_path: Path, method: str, path: str) -> None:
    client, settings, _ = make_client(tmp_path, token=None)
    r = client.request(method, path, headers=AUTH, files=UPLOAD if method == "POST" else None)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert not (settings.sources / "rule.md").exists()


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "])
def test_401_without_the_right_token(tmp_path: Path, method: str, path: str, header: str | None) -> None:
    client, settings, _ = make_client(tmp_path)
    r = client.request(method, path, headers={"Authorization": header} if header else {},
                       files=UPLOAD if method == "POST" else None)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "PARK_ADMIN_TOKEN" in r.json()["error"]["message"]
    assert not (settings.sources / "rule.md").exists()  # nothing stored, no job


def test_the_token_is_compared_in_constant_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain == would return sooner the earlier a guess differs, telling an attacker how much was right."""
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    client, _, _ = make_client(tmp_path)
    assert client.get("/api/v1/admin/gaps", headers={"Authorization": "Bearer s3cret-guess"}).status_code == 401
    assert client.get("/api/v1/admin/gaps", headers=AUTH).status_code == 200
    assert compared == [(b"s3cret-guess", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]


@pytest.mark.parametrize("path", ["/admin", "/admin.js"])
def test_the_admin_page_exists_only_with_a_token(tmp_path: Path, path: str) -> None:
    off, _, _ = make_client(tmp_path, token=None)
    assert off.get(path).status_code == 404
    on, _, _ = make_client(tmp_path / "on")
    page = on.get(path)
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_200_with_the_token_and_rate_limited(tmp_path: Path) -> None:
    client, _, _ = make_client(tmp_path, rate_limit_per_minute=3)
    r = client.get("/api/v1/admin/documents", headers=AUTH)
    assert r.status_code == 200 and r.json() == {"documents": [], "build": None}  # nothing built yet
    codes = [client.get("/api/v1/admin/gaps", headers={"Authorization": "Bearer guess"}).status_code
             for _ in range(3)]
    assert codes == [401, 401, 429]  # token guesses count too


def test_upload_stores_the_file_and_runs_a_job(tmp_path: Path) -> None:
    builds = Builds()
    client, settings, _ = make_client(tmp_path, builds=builds)
    body = "---\ntitle: 测试办法\nexpires: 2020-01-01\n---\n\n# 测试办法\n\n第一条 测试。\n".encode()
    r = client.post("/api/v1/admin/documents", headers=AUTH, files={"file": ("new-rule.md", body, "text/markdown")})
    assert r.status_code == 202
    assert (settings.sources / "new-rule.md").read_bytes() == body
    job = _wait(client, r.json()["job"])
    assert job["status"] == "done" and job["progress"] == 1.0 and job["build"] == "build-1" and builds.calls == 1


def test_a_failed_build_is_a_failed_job_with_its_error(tmp_path: Path) -> None:
    client, _, _ = make_client(tmp_path, builds=Builds(fail=True))
    r = client.post("/api/v1/admin/documents", headers=AUTH, files={"file": ("a.txt", "河套。".encode(), "text/plain")})
    job = _wait(client, r.json()["job"])
    assert job["status"] == "failed" and "disk full" in job["error"]


@pytest.mark.parametrize(("name", "data", "status", "code"), [
    ("evil.exe", b"MZ", 422, "unsupported_file"),
    (".hidden.md", b"# x\n\ntext", 422, "unsupported_file"),
    ("broken.pdf", b"%PDF-1.4 not really\n" * 10, 422, "unreadable_file"),
    ("empty.md", b"", 422, "unreadable_file"),
    ("big.txt", b"x" * (2 * 1024 * 1024), 413, "file_too_large"),
])
def test_bad_uploads_are_refused_clearly(tmp_path: Path, name: str, data: bytes, status: int, code: str) -> None:
    client, settings, _ = make_client(tmp_path, max_upload_mb=1.0)
    before = sorted(p.name for p in settings.sources.rglob("*"))
    r = client.post("/api/v1/admin/documents", headers=AUTH, files={"file": (name, data, "application/octet-stream")})
    assert r.status_code == status and r.json()["error"]["code"] == code, r.text
    assert sorted(p.name for p in settings.sources.rglob("*")) == before  # nothing left behind


def test_path_in_the_file_name_is_dropped(tmp_path: Path) -> None:
    client, settings, _ = make_client(tmp_path)
    r = client.post("/api/v1/admin/documents", headers=AUTH,
                    files={"file": ("../../escape.md", "# 标题\n\n内容。".encode(), "text/markdown")})
    assert r.status_code == 202 and (settings.sources / "escape.md").exists()
    assert not (settings.index_dir.parent / "escape.md").exists()


def test_unknown_document_or_job_is_404(tmp_path: Path) -> None:
    client, _, _ = make_client(tmp_path)
    assert client.delete("/api/v1/admin/documents/nope", headers=AUTH).json()["error"]["code"] == "unknown_document"
    assert client.get("/api/v1/admin/jobs/nope", headers=AUTH).json()["error"]["code"] == "unknown_job"


def test_every_answering_channel_keeps_its_questions(tmp_path: Path) -> None:
    client, _, questions = make_client(tmp_path)
    assert client.post("/api/v1/ask", json={"question": "问一"}).status_code == 200
    assert client.post("/api/v1/ask/stream", json={"question": "问二"}).status_code == 200
    for n, stream in ((3, False), (4, True)):
        r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": f"问{n}"}],
                                                       "stream": stream})
        assert r.status_code == 200
    kept = [(r["question"], r["channel"]) for r in reversed(questions.rows())]
    assert kept == [("问一", "api"), ("问二", "api-stream"), ("问3", "openai"), ("问4", "openai-stream")]


def test_questions_are_logged_and_gaps_grouped_with_csv(tmp_path: Path) -> None:
    client, _, questions = make_client(tmp_path)
    for q in ("写一首诗", "写一首诗", "合作区面积多大？"):  # the fake declines questions with 诗
        assert client.post("/api/v1/ask", json={"question": q}).status_code == 200
    rows = questions.rows()
    assert len(rows) == 3 and {r["answerable"] for r in rows} == {True, False}
    gaps = client.get("/api/v1/admin/gaps", headers=AUTH).json()["gaps"]
    assert [(g["question"], g["count"], g["declined"]) for g in gaps] == [("写一首诗", 2, 2)]
    assert gaps[0]["languages"] == {"zh-Hans": 2} and gaps[0]["last_seen"]
    r = client.get("/api/v1/admin/gaps?format=csv", headers=AUTH)
    assert r.headers["content-type"].startswith("text/csv") and "attachment" in r.headers["content-disposition"]
    assert r.text.startswith("\ufeff")  # the BOM that makes Excel read the file as UTF-8
    table = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert table[0]["question"] == "写一首诗" and table[0]["count"] == "2"


def test_similar_questions_form_one_gap_and_low_confidence_counts() -> None:
    def embed(texts: list[str]) -> np.ndarray:  # the first two mean the same, the third not
        return np.array([[1.0, 0.0], [0.95, 0.05], [0.0, 1.0]][: len(texts)])

    rows = [{"question": q, "lang": lang, "answerable": a, "confidence": c, "created_at": t, "build": "b1"}
            for q, lang, a, c, t in (("GDP多少", "zh-Hans", False, 0.1, "2026-01-03"),
                                     ("GDP是多少", "zh-Hant", True, 0.3, "2026-01-02"),
                                     ("weather", "en", False, None, "2026-01-01"))]
    gaps = group_gaps(rows, embed)
    assert [g["count"] for g in gaps] == [2, 1]
    assert gaps[0]["questions"] == ["GDP多少", "GDP是多少"] and gaps[0]["languages"] == {"zh-Hans": 1, "zh-Hant": 1}
    assert gaps[0]["declined"] == 1 and gaps[0]["last_seen"] == "2026-01-03" and gaps[0]["builds"] == ["b1"]


def test_answers_given_with_low_confidence_are_gaps_and_confident_ones_are_not(tmp_path: Path) -> None:
    """The gap list holds the declined questions and those answered with a confidence under 0.5."""
    client, _, questions = make_client(tmp_path)
    for question, confidence in (("低信心的问题", 0.3), ("有把握的问题", 0.9), ("无信心分的问题", None)):
        questions.record(question, lang="zh-Hans", answerable=True, confidence=confidence, mode="extractive",
                         build="b1")
    gaps = client.get("/api/v1/admin/gaps", headers=AUTH).json()["gaps"]
    assert [(g["question"], g["count"], g["declined"]) for g in gaps] == [("低信心的问题", 1, 0)]


def test_feedback_carries_build_and_confidence_and_exports(tmp_path: Path) -> None:
    client, _, _ = make_client(tmp_path)
    r = client.post("/api/v1/feedback", json={"question": "面积？", "answer": "约3.89平方公里[1]", "rating": "down",
                                              "reason": "少了香港园区", "citations": [{"n": 1, "title": "规划"}],
                                              "confidence": 0.42})
    assert r.status_code == 201
    (row,) = client.get("/api/v1/admin/feedback", headers=AUTH).json()["feedback"]
    assert row["rating"] == -1 and row["reason"] == "少了香港园区" and row["confidence"] == 0.42
    assert row["citations"] == [{"n": 1, "title": "规划"}] and "build" in row
    text = client.get("/api/v1/admin/feedback?format=csv", headers=AUTH).text
    assert "少了香港园区" in text and '""title"": ""规划""' in text and text.startswith("\ufeff")
    assert client.get("/api/v1/admin/feedback?limit=-1", headers=AUTH).json() == {"feedback": []}


def _wait(client: Any, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = client.get(f"/api/v1/admin/jobs/{job_id}", headers=AUTH)
        job: dict[str, Any] = r.json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


# --------------------------------------------------------------- the whole path: real server, real index, e5

DRONE_MD = """---
title: 河套合作区无人机试飞场开放管理办法
issuer: 河套发展署
doc_no: 深河套规〔2024〕9号
expires: 2025-06-30
scope: 深圳园区
---

# 河套合作区无人机试飞场开放管理办法

第一条 河套合作区无人机试飞场每周三上午九点至十二点向园区企业免费开放。
第二条 使用试飞场的企业须提前三个工作日在河套发展署网站预约。
"""
SANDBOX_TEXT = ("河套机器人沙盒管理规则\n\n"
                "第一条 机器人沙盒每周五下午向已登记的初创企业免费出借焊台和示波器，每次最长四小时。")
CJK_FONT = next(iter(sorted(Path("/usr/share/fonts").rglob("NotoSansCJK-Regular.ttc"))), None)


def _make_pdf(path: Path) -> bytes:
    from fpdf import FPDF

    if CJK_FONT is None:
        pytest.skip("no CJK font under /usr/share/fonts (install fonts-noto-cjk) for the Chinese PDF")
    pdf = FPDF()
    pdf.set_title("河套机器人沙盒管理规则")
    pdf.set_author("河套发展署")
    pdf.add_font("body", fname=str(CJK_FONT), collection_font_number=2)
    pdf.add_page()
    pdf.set_font("body", size=12)
    pdf.multi_cell(0, 8, SANDBOX_TEXT)
    pdf.output(str(path))
    return path.read_bytes()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from assistant.wiring import admin_tools, build_indexer, live_assistant

    tmp = tmp_path_factory.mktemp("admin-real")
    settings = make_tiny_settings(tmp, admin_token=TOKEN, reload_interval_s=0.2, rate_limit_per_minute=10_000)
    build_indexer(settings).build()  # the real e5 model
    live = live_assistant(settings)
    live.start()
    app = create_app(live, settings, FeedbackStore(settings.feedback_db), QuestionLog(settings.feedback_db),
                     admin_tools(settings))
    server, thread, base = serve_app(app, **UVICORN_OPTIONS)
    try:
        yield httpx.Client(base_url=base, timeout=120), settings, tmp
    finally:
        server.should_exit = True
        thread.join(10)
        live.close()


def _upload(client: httpx.Client, name: str, data: bytes) -> dict[str, Any]:
    r = client.post("/api/v1/admin/documents", headers=AUTH, files={"file": (name, data)})
    assert r.status_code == 202, r.text
    job = _wait(client, r.json()["job"], timeout=300)
    assert job["status"] == "done", job
    return job


def _ask_until(client: httpx.Client, question: str, build: str, timeout: float = 30) -> dict[str, Any]:
    """Ask once the server serves ``build`` (it moves to a new build by itself within the reload interval)."""
    deadline = time.monotonic() + timeout
    while client.get("/readyz").json().get("build") != build:
        assert time.monotonic() < deadline, f"the server did not move to build {build}"
        time.sleep(0.1)
    r = client.post("/api/v1/ask", json={"question": question})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_upload_answer_delete_on_a_real_server(live_server: Any) -> None:
    client, settings, tmp = live_server
    job = _upload(client, "drone-field.md", DRONE_MD.encode())
    body = _ask_until(client, "无人机试飞场什么时候开放？", job["build"])
    cited = [c for c in body["citations"] if c["source"] == "drone-field.md"]
    assert body["answerable"] and cited, body
    c = cited[0]
    assert c["title"] == "河套合作区无人机试飞场开放管理办法" and c["doc_no"] == "深河套规〔2024〕9号"
    assert c["issuer"] == "河套发展署" and c["scope"] == "深圳园区"
    assert c["status"] == "expired" and c["expires"] == "2025-06-30"  # an expired policy's citation is marked
    assert body["notice"] and "已过有效期" in body["notice"]

    job = _upload(client, "sandbox.pdf", _make_pdf(tmp / "sandbox.pdf"))
    body = _ask_until(client, "机器人沙盒什么时候出借焊台？", job["build"])
    cited = [c for c in body["citations"] if c["source"] == "sandbox.pdf"]
    assert body["answerable"] and cited, body
    assert cited[0]["title"] == "河套机器人沙盒管理规则" and cited[0]["issuer"] == "河套发展署"
    assert cited[0]["status"] == "undated" and "每周五下午" in cited[0]["quote"]

    docs = client.get("/api/v1/admin/documents", headers=AUTH).json()
    assert docs["build"] == job["build"]
    row = next(d for d in docs["documents"] if d["source"] == "drone-field.md")
    assert row["status"] == "expired" and row["doc_no"] == "深河套规〔2024〕9号" and row["chunks"] >= 1

    r = client.delete(f"/api/v1/admin/documents/{row['id']}", headers=AUTH)
    assert r.status_code == 202
    job = _wait(client, r.json()["job"], timeout=300)
    assert job["status"] == "done"
    body = _ask_until(client, "无人机试飞场什么时候开放？", job["build"])
    assert all(c["source"] != "drone-field.md" for c in body["citations"])
    assert not (settings.sources / "drone-field.md").exists()
    sources = {d["source"] for d in client.get("/api/v1/admin/documents", headers=AUTH).json()["documents"]}
    assert "drone-field.md" not in sources and "sandbox.pdf" in sources
