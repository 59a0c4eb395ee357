"""The web chat tells a failure as the API does: the public message of its code, or the generic internal-error
message — never the error's own text, which for a feedback or question-log database names the server's
``PARK_FEEDBACK_DB`` file. The server log keeps the whole of it. The asker's own mistakes (a question too long, a
reason too long) are still told as they are: they say what to change.

The database failures are the real ones: the real stores over a path where a folder stands, driven through the
real :class:`WebChat` as gradio calls it.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.config import Settings
from assistant.data import Message
from assistant.errors import AssistantError
from assistant.testing import FakeAssistant
from assistant.web.api import create_app
from assistant.web.errors import INTERNAL_ERROR as API_INTERNAL_ERROR
from assistant.web.feedback import MAX_REASON_CHARS, FeedbackStore
from assistant.web.questions import QuestionLog
from assistant.web.ui_chat import WebChat, new_session
from assistant.web.ui_render import INTERNAL_ERROR

#: A folder name no answer would hold: finding it in what the visitor is shown is the leak.
SECRET = "srv-feedback-secret-7d2e"


def _unwritable(tmp_path: Path) -> Path:
    """Where ``PARK_FEEDBACK_DB`` points: a folder stands there, so every write fails."""
    path = tmp_path / SECRET / "feedback.sqlite3"
    path.mkdir(parents=True)
    return path


def _store_failure(tmp_path: Path, kind: str) -> AssistantError:
    """The error the real feedback store or question log raises when its file cannot be written."""
    path = _unwritable(tmp_path)
    with pytest.raises(AssistantError) as failed:
        if kind == "feedback":
            FeedbackStore(path).record("面积？", "约3.89平方公里", [], 1)
        else:
            QuestionLog(path).record("面积？", lang="zh-Hans", answerable=True, confidence=0.9, mode="extractive",
                                     build=None)
    assert SECRET in str(failed.value) and "PARK_FEEDBACK_DB" in str(failed.value)  # the path is in it
    return failed.value


class FailsMidway(FakeAssistant):
    """Streams some text, then fails with ``exc``."""

    def __init__(self, exc: Exception) -> None:
        super().__init__()
        self.exc = exc

    def answer(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None) -> Any:
        raise self.exc

    def stream(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None) -> Iterator[Any]:
        yield from list(super().stream(question, history, lang=lang))[:3]
        raise self.exc


def _leaks(text: str, exc: Exception) -> bool:
    """Whether ``text`` holds the folder, or any of the error's own words after its first clause."""
    detail = str(exc).split(":", 1)[-1].strip()
    return SECRET in text or "PARK_FEEDBACK_DB" in text or detail in text or html.escape(detail) in text


@pytest.mark.parametrize("kind", ["feedback", "questions"])
def test_a_database_failure_while_answering_is_told_as_the_api_tells_it(tmp_path: Path, kind: str,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    exc = _store_failure(tmp_path, kind)
    api = TestClient(create_app(FailsMidway(exc), Settings(allowed_hosts=("testserver",)), None),
                     raise_server_exceptions=False)
    said = api.post("/api/v1/ask", json={"question": "面积？"}).json()["error"]
    assert said["message"] == API_INTERNAL_ERROR and not _leaks(said["message"], exc)  # what the API says

    chat = WebChat(FailsMidway(exc), FeedbackStore(tmp_path / "fb.sqlite3"))
    *_, (value, _, session, _) = chat.respond("面积？", "auto", new_session())
    shown = value[-1]["content"]
    assert "Could not answer" in shown and html.escape(INTERNAL_ERROR) in shown and not _leaks(shown, exc)
    assert session["history"] == []
    assert f"(assistant_error): {exc}" in caplog.text  # the operator reads the whole of it


def test_an_unexpected_failure_is_told_as_internal_and_logged_with_its_trace(tmp_path: Path,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    exc = RuntimeError(f"cannot read /{SECRET}/state.json: permission denied")
    chat = WebChat(FailsMidway(exc), FeedbackStore(tmp_path / "fb.sqlite3"))
    *_, (value, _, _, _) = chat.respond("面积？", "auto", new_session())
    assert html.escape(INTERNAL_ERROR) in value[-1]["content"] and not _leaks(value[-1]["content"], exc)
    assert "Traceback" in caplog.text and str(exc) in caplog.text


def test_a_question_log_that_cannot_be_written_costs_no_answer_and_is_logged(tmp_path: Path,
                                                                            caplog: pytest.LogCaptureFixture) -> None:
    log = QuestionLog(_unwritable(tmp_path))
    chat = WebChat(FakeAssistant(), FeedbackStore(tmp_path / "fb.sqlite3"), questions=log)
    *_, (value, _, session, _) = chat.respond("面积？", "auto", new_session())
    shown = value[-1]["content"]
    assert "3.89" in shown and "Could not answer" not in shown and SECRET not in shown and "PARK_FEEDBACK_DB" \
        not in shown and len(session["history"]) == 2
    assert SECRET in caplog.text and "PARK_FEEDBACK_DB" in caplog.text  # the whole error, for the operator


def _answered(chat: WebChat) -> dict[str, Any]:
    *_, (_, _, session, _) = chat.respond("合作区面积多大？", "auto", new_session())
    return session


def test_a_rating_the_database_cannot_keep_says_not_saved_without_the_error(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    store = FeedbackStore(_unwritable(tmp_path))
    with pytest.raises(AssistantError) as failed:
        store.record("面积？", "约3.89平方公里", [], 1)
    exc = failed.value
    chat = WebChat(FakeAssistant(), store)
    session = _answered(chat)
    status, box, after = chat.rate(1, False, "缺少香港园区", session)
    assert status == f"⚠ 反馈未保存 Feedback not saved: {INTERNAL_ERROR}" and not _leaks(status, exc)
    assert box == "缺少香港园区" and "rated" not in after["answers"]["1"]  # kept to try again; nothing recorded
    assert f"saving a rating failed (assistant_error): {exc}" in caplog.text  # the whole of it, path included


def test_a_rating_that_fails_unexpectedly_is_logged_with_its_trace(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    class Broken(FeedbackStore):
        def record(self, *args: Any, **kwargs: Any) -> int:
            raise RuntimeError(f"lost /{SECRET}/feedback.sqlite3")

    chat = WebChat(FakeAssistant(), Broken(tmp_path / "fb.sqlite3"))
    status, _, _ = chat.rate(1, True, "", _answered(chat))
    assert status == f"⚠ 反馈未保存 Feedback not saved: {INTERNAL_ERROR}" and SECRET not in status
    assert "Traceback" in caplog.text and f"lost /{SECRET}/feedback.sqlite3" in caplog.text


def test_the_askers_own_mistakes_are_still_told_as_they_are(tmp_path: Path) -> None:
    chat = WebChat(FakeAssistant(), FeedbackStore(tmp_path / "fb.sqlite3"))
    *_, (value, _, _, _) = chat.respond("面" * 1001, "auto", new_session())
    assert "The question has 1001 characters; at most 1000 are accepted — shorten it." in value[-1]["content"]
    status, box, _ = chat.rate(1, False, "太长" * MAX_REASON_CHARS, _answered(chat))
    assert status == (f"⚠ 反馈未保存 Feedback not saved: reason is {2 * MAX_REASON_CHARS} characters; shorten it to "
                      f"at most {MAX_REASON_CHARS}")
    assert box == "太长" * MAX_REASON_CHARS
