"""Questions asked, kept for the editors: which ones the sources could not answer (declined) or answered with
low confidence, grouped by meaning — the content gaps (``GET /api/v1/admin/gaps``, ``park-assistant gaps``).

Stored in the feedback database (``PARK_FEEDBACK_DB``, table ``questions``) with the answer's language, mode,
confidence and the index build that answered. No IP address or other personal data is kept.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.data import Answer, AssistantLike
from assistant.errors import AssistantError
from assistant.web.sqlite_file import SqliteFile

log = logging.getLogger(__name__)

#: An answered question whose confidence is below this counts as a gap too.
LOW_CONFIDENCE = 0.5
#: Questions whose embeddings are at least this similar (cosine) are one gap.
SAME_GAP = 0.9

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  TEXT NOT NULL,
    question    TEXT NOT NULL,
    lang        TEXT,
    answerable  INTEGER NOT NULL,
    confidence  REAL,
    mode        TEXT,
    build       TEXT,
    channel     TEXT
);
CREATE INDEX IF NOT EXISTS questions_created_at ON questions (created_at);
"""
_COLUMNS = ("id", "created_at", "question", "lang", "answerable", "confidence", "mode", "build", "channel")


class QuestionSink(Protocol):
    """What the answering channels need of :class:`QuestionLog`."""

    def record(self, question: str, *, lang: str | None, answerable: bool, confidence: float | None,
               mode: str | None, build: str | None, channel: str = "api") -> int: ...


def serving_build(assistant: AssistantLike) -> str | None:
    """The id of the index build ``assistant`` serves now (kept with questions and feedback), or None."""
    try:
        build = assistant.info().get("build")
    except AssistantError:
        return None
    return str(build) if build else None


def record_answer(sink: QuestionSink | None, assistant: AssistantLike, answer: Answer, channel: str) -> None:
    """Keep ``answer``'s question, how it was answered and the build that answered it, for the editors' content
    gaps: the one path every channel takes (``api``, ``api-stream``, ``openai``, ``webchat``). A log that cannot
    be written is logged, never the asker's error: the answer was given."""
    if sink is None:
        return
    try:
        sink.record(answer.question, lang=answer.lang, answerable=answer.answerable, confidence=answer.confidence,
                    mode=answer.mode, build=serving_build(assistant), channel=channel)
    except AssistantError as exc:
        log.warning("question not kept for the content gaps: %s", exc)


class QuestionLog:
    """Questions and how they were answered, in SQLite at ``path`` (thread-safe; created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = SqliteFile(self.path, _SCHEMA, "question log")

    def record(self, question: str, *, lang: str | None, answerable: bool, confidence: float | None,
               mode: str | None, build: str | None, channel: str = "api") -> int:
        row = (datetime.now(UTC).isoformat(timespec="seconds"), question[:4000], lang, int(answerable),
               confidence, mode, build, channel)
        with self._db.connect() as conn, conn:
            cur = conn.execute("INSERT INTO questions (created_at, question, lang, answerable, confidence, mode, "
                               "build, channel) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
            return int(cur.lastrowid or 0)

    def rows(self, limit: int = 10_000) -> list[dict[str, Any]]:
        """The newest ``limit`` questions, newest first."""
        with self._db.connect() as conn:
            found = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM questions ORDER BY id DESC LIMIT ?",
                                 (limit,)).fetchall()
        return [dict(zip(_COLUMNS, r, strict=True)) | {"answerable": bool(r[4])} for r in found]

    def gaps(self, embed: Callable[[list[str]], np.ndarray], limit: int = 10_000) -> list[dict[str, Any]]:
        """Declined and low-confidence questions grouped by meaning, most asked first."""
        return group_gaps([r for r in self.rows(limit) if is_gap(r)], embed)


def is_gap(row: dict[str, Any]) -> bool:
    """Declined, or answered with a confidence below :data:`LOW_CONFIDENCE`."""
    confidence = row.get("confidence")
    return not row["answerable"] or (confidence is not None and confidence < LOW_CONFIDENCE)


def group_gaps(rows: Sequence[dict[str, Any]], embed: Callable[[list[str]], np.ndarray]) -> list[dict[str, Any]]:
    """Rows (newest first) grouped greedily: a question joins the first group whose first question is at least
    :data:`SAME_GAP` similar (normalised embeddings), else starts one. Each group: the newest wording, all
    distinct wordings, count, languages, last seen, how many were declined."""
    if not rows:
        return []
    texts = list(dict.fromkeys(r["question"] for r in rows))
    vectors = np.asarray(embed(texts), dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    vec = dict(zip(texts, vectors, strict=True))
    groups: list[tuple[np.ndarray, list[dict[str, Any]]]] = []
    for r in rows:
        v = vec[r["question"]]
        for head, members in groups:
            if float(head @ v) >= SAME_GAP:
                members.append(r)
                break
        else:
            groups.append((v, [r]))
    out = []
    for _, members in groups:
        langs = Counter(m["lang"] or "?" for m in members)
        out.append({"question": members[0]["question"], "count": len(members),
                    "questions": list(dict.fromkeys(m["question"] for m in members)),
                    "languages": dict(langs.most_common()), "last_seen": members[0]["created_at"],
                    "declined": sum(not m["answerable"] for m in members),
                    "builds": sorted({m["build"] for m in members if m["build"]})})
    out.sort(key=lambda g: g["last_seen"], reverse=True)
    return sorted(out, key=lambda g: -g["count"])  # most asked first, then most recent


def gaps_as_eval_rows(log: QuestionLog, embed: Callable[[list[str]], np.ndarray], *,
                      every: bool = False) -> list[dict[str, Any]]:
    """Stored questions in the dev set's format (``id``, ``question``, ``lang``, empty ``facts``/``evidence``
    for editors to fill in, ``split: check``), one per gap group — or one per stored question with ``every``."""
    if every:
        return [{"id": f"asked-{r['id']}", "question": r["question"], "lang": r["lang"], "facts": [],
                 "evidence": [], "category": "asked", "split": "check", "answered": r["answerable"],
                 "confidence": r["confidence"], "build": r["build"], "asked_at": r["created_at"]}
                for r in log.rows()]
    return [{"id": f"gap-{n:03d}", "question": g["question"],
             "lang": next((lang for lang in g["languages"] if lang != "?"), None),
             "facts": [], "evidence": [], "category": "gap", "split": "check", "count": g["count"],
             "variants": g["questions"], "declined": g["declined"], "last_seen": g["last_seen"]}
            for n, g in enumerate(log.gaps(embed), start=1)]
