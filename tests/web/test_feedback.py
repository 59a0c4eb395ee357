"""FeedbackStore against a real SQLite file in tmp_path."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import asdict
from pathlib import Path

import pytest

from assistant.errors import AssistantError, InputError
from assistant.testing import FakeAssistant
from assistant.web.feedback import FeedbackStore

CITATION = {"n": 1, "title": "规划要点摘编", "doc_no": "国发〔2023〕12号", "quote": "总面积约3.89平方公里。"}


def test_created_lazily_with_parent_dir_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "feedback.sqlite3"
    store = FeedbackStore(path)
    assert not path.parent.exists()  # constructing touches nothing
    assert store.count() == 0
    assert path.exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_record_recent_count_roundtrip(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    first = store.record("河套合作区总面积有多大？", "约3.89平方公里[1]", [CITATION], +1,
                         lang="zh-Hans", mode="extractive", meta={"source": "test"})
    second = store.record("Which crossings?", "Huanggang [1]", [], -1, reason="  wrong port  ", lang="en")
    assert second > first
    assert store.count() == 2

    rows = store.recent(10)
    assert [r["id"] for r in rows] == [second, first]  # newest first
    newest, oldest = rows
    assert newest["rating"] == -1 and newest["reason"] == "wrong port" and newest["citations"] == []
    assert newest["mode"] is None and newest["meta"] == {}
    assert oldest["question"] == "河套合作区总面积有多大？"
    assert oldest["answer"] == "约3.89平方公里[1]"
    assert oldest["citations"] == [CITATION]  # Chinese survives the JSON round trip
    assert oldest["rating"] == 1 and oldest["reason"] is None
    assert oldest["lang"] == "zh-Hans" and oldest["mode"] == "extractive" and oldest["meta"] == {"source": "test"}
    assert oldest["created_at"].endswith("+00:00")  # UTC ISO timestamp
    assert store.recent(1) == [newest]
    assert store.recent(0) == []


def test_persists_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "fb.sqlite3"
    FeedbackStore(path).record("q", "a", [], 1)
    assert FeedbackStore(path).count() == 1


def test_accepts_citations_of_a_real_answer(tmp_path: Path) -> None:
    answer = FakeAssistant().answer("河套合作区总面积有多大？")
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    store.record(answer.question, answer.text, [asdict(c) for c in answer.citations], 1, mode=answer.mode)
    (row,) = store.recent(1)
    assert row["citations"][0]["quote"] == answer.citations[0].quote
    assert row["citations"][0]["doc_no"] == "国发〔2023〕12号"


@pytest.mark.parametrize("rating", [0, 2, -2, True, False, "1", 1.0, None])
def test_invalid_rating_is_rejected(tmp_path: Path, rating: object) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    with pytest.raises(InputError, match="rating must be"):
        store.record("q", "a", [], rating)  # type: ignore[arg-type]
    assert store.count() == 0


def test_invalid_text_is_rejected(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    with pytest.raises(InputError, match="question"):
        store.record("   ", "a", [], 1)
    with pytest.raises(InputError, match="reason"):
        store.record("q", "a", [], 1, reason="x" * 5000)
    with pytest.raises(InputError, match="limit"):
        store.recent(-1)
    assert store.count() == 0


def test_unwritable_location_says_what_to_do(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store = FeedbackStore(blocker / "fb.sqlite3")
    with pytest.raises(AssistantError, match="PARK_FEEDBACK_DB"):
        store.record("q", "a", [], 1)


def test_concurrent_writers_from_threads(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    threads_n, per_thread = 8, 25
    errors: list[BaseException] = []
    ids: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(threads_n)

    def work(t: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                row_id = store.record(f"q{t}-{i}", "a", [CITATION], 1 if i % 2 else -1, meta={"t": t})
                with lock:
                    ids.append(row_id)
                store.recent(5)  # readers interleave with writers
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not errors
    assert store.count() == threads_n * per_thread
    assert len(set(ids)) == threads_n * per_thread
    questions = {r["question"] for r in store.recent(10_000)}
    assert questions == {f"q{t}-{i}" for t in range(threads_n) for i in range(per_thread)}


def test_overlong_text_is_refused_before_it_is_stored(tmp_path: Path) -> None:
    """The web chat stores what the browser sends back; the store holds at most MAX_TEXT_CHARS of it."""
    from assistant.web.feedback import MAX_TEXT_CHARS

    store = FeedbackStore(tmp_path / "fb.sqlite3")
    for question, answer in (("q" * (MAX_TEXT_CHARS + 1), "a"), ("q", "a" * (MAX_TEXT_CHARS + 1))):
        with pytest.raises(InputError, match=str(MAX_TEXT_CHARS)):
            store.record(question, answer, [], 1)
    assert store.record("q" * MAX_TEXT_CHARS, "a" * MAX_TEXT_CHARS, [], 1) == 1  # the limit itself is kept whole


def test_a_database_that_breaks_after_it_was_made_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "fb.sqlite3"
    store = FeedbackStore(path)
    store.record("q", "a", [], 1)
    for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        extra.unlink(missing_ok=True)
    path.write_bytes(b"this is not a database " * 100)  # overwritten by something else
    with pytest.raises(AssistantError, match="PARK_FEEDBACK_DB") as failed:
        store.record("q", "a", [], 1)
    assert str(path) in str(failed.value)
    with pytest.raises(AssistantError, match="PARK_FEEDBACK_DB"):
        store.recent()
