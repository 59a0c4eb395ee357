"""Documents in and out through the admin API. Uploads land whole or not at all: a new version of a document is
written beside it, read back as the indexer would read it, synced to disk and renamed over the old one, so the
index build (or a power cut) never finds part of a file, and an upload that fails anywhere leaves the old
document as it was.
Also the two size checks: the edge's (PARK_MAX_UPLOAD_MB plus the multipart framing) and the route's own; and
a deletion removes only a listed document's file inside the sources folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import make_tiny_settings, record_syncs

from assistant.config import Settings
from assistant.knowledge.catalog import document_id
from assistant.knowledge.indexing import store_dir
from assistant.limits import Limits
from assistant.testing import FakeAssistant, FakeEmbedder
from assistant.web.admin import AdminTools
from assistant.web.api import create_app
from assistant.web.jobs import IndexJobs
from assistant.wiring import build_indexer

TOKEN = "upload-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OLD = "---\ntitle: 旧办法\n---\n\n# 旧办法\n\n第一条 旧的条文。\n".encode()
NEW = "---\ntitle: 新办法\n---\n\n# 新办法\n\n第一条 新的条文。\n".encode()


class Builds:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, progress: Any) -> None:
        self.calls += 1


def make(tmp_path: Path, **changes: Any) -> tuple[TestClient, Settings, Builds]:
    settings = make_tiny_settings(tmp_path, admin_token=TOKEN, allowed_hosts=("testserver",), **changes)
    builds = Builds()
    tools = AdminTools(IndexJobs(builds), lambda texts: FakeEmbedder().embed(texts, "query"))
    app = create_app(FakeAssistant(), settings, None, None, tools)
    (settings.sources / "rule.md").write_bytes(OLD)
    return TestClient(app, raise_server_exceptions=False), settings, builds


def upload(client: TestClient, data: bytes, name: str = "rule.md") -> Any:
    return client.post("/api/v1/admin/documents", headers=AUTH, files={"file": (name, data, "text/markdown")})


def leftovers(settings: Settings) -> list[str]:
    return sorted(p.name for p in settings.sources.iterdir() if p.name.startswith("."))


def test_a_new_version_replaces_the_file_by_a_rename(tmp_path: Path) -> None:
    """A reader that opened the old file (an index build under way) still reads the old version whole."""
    client, settings, _ = make(tmp_path)
    with (settings.sources / "rule.md").open("rb") as reading:
        assert upload(client, NEW).status_code == 202
        assert reading.read() == OLD
    assert (settings.sources / "rule.md").read_bytes() == NEW and leftovers(settings) == []


@pytest.mark.parametrize("data", [b"", b"%PDF-1.4 broken\n" * 10], ids=["empty", "unreadable"])
def test_a_version_that_cannot_be_read_leaves_the_old_one(tmp_path: Path, data: bytes) -> None:
    client, settings, builds = make(tmp_path)
    r = upload(client, data, "rule.md" if data == b"" else "rule.pdf")
    assert r.status_code == 422 and r.json()["error"]["code"] == "unreadable_file"
    assert (settings.sources / "rule.md").read_bytes() == OLD and leftovers(settings) == []
    assert builds.calls == 0 and not (settings.sources / "rule.pdf").exists()


def test_a_failed_rename_leaves_the_old_file_and_no_temporary_one(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    client, settings, builds = make(tmp_path)
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).name == "rule.md":
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    r = upload(client, NEW)
    assert r.status_code >= 500 and "No space" not in r.text  # told as an internal error, logged in full
    assert (settings.sources / "rule.md").read_bytes() == OLD and leftovers(settings) == []
    assert builds.calls == 0  # no index job for a file that was not stored


def test_the_upload_is_on_disk_before_it_takes_the_documents_name_and_the_name_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client, _, _ = make(tmp_path)
    events = record_syncs(monkeypatch)
    assert upload(client, NEW).status_code == 202
    assert [kind for kind, _, _ in events] == ["fsync", "replace", "fsync dir"], events
    assert events[0][1] == events[1][1] and events[0][2] == NEW  # the file renamed was whole when synced
    assert events[2][1] == str(Path(events[1][1]).parent)  # then the folder: the rename itself is on disk


def test_the_route_refuses_a_file_over_the_limit_within_the_edges_allowance(tmp_path: Path) -> None:
    """The edge lets the multipart framing through (64 KB over the limit); the route counts the file itself."""
    client, settings, builds = make(tmp_path, max_upload_mb=0.1)
    r = upload(client, b"x" * (settings.limits.max_upload_bytes + 1), "big.txt")
    assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"
    assert not (settings.sources / "big.txt").exists() and builds.calls == 0


def test_an_upload_may_be_larger_than_a_question_body(tmp_path: Path) -> None:
    """The upload route has its own limit (PARK_MAX_UPLOAD_MB), not the 256 KB of a question's body."""
    client, settings, _ = make(tmp_path, max_upload_mb=1.0)
    text = ("# 大文件\n\n" + "第一条 合作区的条文。\n\n" * 20_000).encode()
    assert Limits().max_body_bytes < len(text) < settings.limits.max_upload_bytes
    r = upload(client, text, "big.md")
    assert r.status_code == 202, r.text
    assert (settings.sources / "big.md").read_bytes() == text


@pytest.mark.parametrize(("method", "path"), [("DELETE", "/api/v1/admin/documents/rule"),
                                            ("PUT", "/api/v1/admin/documents"), ("GET", "/api/v1/admin/documents")])
def test_only_the_upload_gets_the_uploads_allowance(tmp_path: Path, method: str, path: str) -> None:
    """Another request to the documents' paths carries no document: past a question's body limit it is refused."""
    client, settings, _ = make(tmp_path, max_upload_mb=1.0)
    r = client.request(method, path, headers={**AUTH, "Content-Type": "application/json"},
                       content=b"x" * (Limits().max_body_bytes + 1))
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large", f"{method} {path}: {r.status_code}"
    assert (settings.sources / "rule.md").read_bytes() == OLD


def test_a_listed_document_whose_file_is_gone_is_404_not_an_error(tmp_path: Path) -> None:
    client, settings, builds = make(tmp_path)
    build_indexer(settings, embedder=FakeEmbedder()).build()
    (doc,) = [d for d in client.get("/api/v1/admin/documents", headers=AUTH).json()["documents"]
              if d["source"] == "rule.md"]
    (settings.sources / "rule.md").unlink()  # removed by hand since the build
    r = client.delete(f"/api/v1/admin/documents/{doc['id']}", headers=AUTH)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_document" and builds.calls == 0


def test_a_deletion_never_reaches_outside_the_sources_folder(tmp_path: Path) -> None:
    """Even when the build names a source outside the folder (a hand-edited build), delete leaves it alone."""
    client, settings, builds = make(tmp_path)
    build_id = build_indexer(settings, embedder=FakeEmbedder()).build().build_id
    outside = settings.index_dir / "outside.md"
    outside.write_bytes(OLD)
    chunks = store_dir(settings.index_dir) / "builds" / build_id / "chunks.jsonl"
    rows = [json.loads(line) for line in chunks.read_text(encoding="utf-8").splitlines()]
    rows[0]["source"] = "../outside.md"
    chunks.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    r = client.delete(f"/api/v1/admin/documents/{document_id('../outside.md')}", headers=AUTH)
    assert r.status_code == 404 and outside.read_bytes() == OLD and builds.calls == 0


@pytest.mark.parametrize("name", ["~$rule.docx", ".rule.md", "rule.md.exe", "rule"])
def test_office_lock_files_hidden_files_and_other_types_are_refused(tmp_path: Path, name: str) -> None:
    client, settings, builds = make(tmp_path)
    r = upload(client, NEW, name)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unsupported_file"
    assert not (settings.sources / name).exists() and builds.calls == 0
