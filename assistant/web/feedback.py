"""Feedback on answers (👍/👎 with an optional reason), kept in a small SQLite file.

The web chat and the HTTP API both write here, possibly from many threads at once, so every call opens its
own connection (SQLite connections must not be shared across threads) and the database runs in WAL mode
(readers never block the writer). The file and its parent folder are created on first use, not at
construction, so building a store never touches the disk.

>>> store = FeedbackStore(Path(tmp) / "feedback.sqlite3")  # doctest: +SKIP
>>> store.record("合作区面积？", "约3.89平方公里[1]", [{"n": 1, "quote": "…"}], +1, reason=None)  # doctest: +SKIP
1
>>> store.count()  # doctest: +SKIP
1
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.errors import InputError
from assistant.web.sqlite_file import SqliteFile

#: Longest question/answer and reason the store accepts (characters); longer input is a caller bug.
MAX_TEXT_CHARS = 50_000
MAX_REASON_CHARS = 2_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  TEXT    NOT NULL,
    question    TEXT    NOT NULL,
    answer      TEXT    NOT NULL,
    citations   TEXT    NOT NULL DEFAULT '[]',
    rating      INTEGER NOT NULL CHECK (rating IN (1, -1)),
    reason      TEXT,
    lang        TEXT,
    mode        TEXT,
    meta        TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS feedback_created_at ON feedback (created_at);
"""

_COLUMNS = ("id", "created_at", "question", "answer", "citations", "rating", "reason", "lang", "mode", "meta")


class FeedbackStore:
    """Ratings of answers in SQLite at ``path``; safe to share between threads and processes.

    ``record`` validates its input and raises :class:`InputError` for a bad rating or oversized text;
    a database that cannot be opened or written raises :class:`AssistantError` naming the path.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = SqliteFile(self.path, _SCHEMA, "feedback database")

    def record(
        self,
        question: str,
        answer_text: str,
        citations: Sequence[dict[str, Any]],
        rating: int,
        reason: str | None = None,
        lang: str | None = None,
        mode: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> int:
        """Store one rating (``+1`` helpful, ``-1`` not helpful) of an answer; returns the new row's id.

        ``citations`` are the answer's citations as plain dicts (``dataclasses.asdict(citation)`` will do);
        ``meta`` holds extras such as the model name or where the feedback came from.
        """
        # bool is an int subclass and 1.0 == 1: both would otherwise pass as +1.
        if not isinstance(rating, int) or isinstance(rating, bool) or rating not in (1, -1):
            raise InputError(f"rating must be +1 (helpful) or -1 (not helpful), got {rating!r}")
        if not isinstance(question, str) or not question.strip():
            raise InputError("feedback needs the question that was asked; got an empty question")
        if not isinstance(answer_text, str):
            raise InputError(f"answer_text must be a string, got {type(answer_text).__name__}")
        for name, value in (("question", question), ("answer_text", answer_text)):
            if len(value) > MAX_TEXT_CHARS:
                raise InputError(f"{name} is {len(value)} characters; at most {MAX_TEXT_CHARS} are stored")
        reason = (reason or "").strip() or None
        if reason is not None and len(reason) > MAX_REASON_CHARS:
            raise InputError(f"reason is {len(reason)} characters; shorten it to at most {MAX_REASON_CHARS}")
        row = (
            datetime.now(UTC).isoformat(timespec="milliseconds"),
            question,
            answer_text,
            _to_json(list(citations), "citations"),
            int(rating),
            reason,
            lang,
            mode,
            _to_json(meta or {}, "meta"),
        )
        with self._db.connect() as conn, conn:
            cur = conn.execute(
                "INSERT INTO feedback (created_at, question, answer, citations, rating, reason, lang, mode, meta)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cur.lastrowid or 0)

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest ``limit`` ratings, newest first, with ``citations`` and ``meta`` decoded."""
        if limit < 0:
            raise InputError(f"limit must be >= 0, got {limit}")
        with self._db.connect() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM feedback ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        out = []
        for row in rows:
            item = dict(zip(_COLUMNS, row, strict=True))
            item["citations"] = json.loads(item["citations"])
            item["meta"] = json.loads(item["meta"])
            out.append(item)
        return out

    def count(self) -> int:
        """How many ratings are stored."""
        with self._db.connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])


def _to_json(value: Any, name: str) -> str:
    try:
        # default=str: citation meta may hold dates or paths; storing their text beats refusing feedback.
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be JSON-serialisable: {exc}") from exc
