"""Evaluation questions: the file format of ``shared/README.md`` (JSONL or CSV), read and validated.

Unknown fields are ignored, so any file of that format is accepted.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.data import Message
from assistant.errors import InputError
from assistant.lang import LANGS, detect_lang

VERDICTS = ("likely", "unlikely", "need_more_info", "cannot_tell")


@dataclass(frozen=True)
class Question:
    """One evaluation question (see ``shared/README.md`` for the file format)."""

    id: str
    question: str
    lang: str
    answerable: bool
    category: str = "uncategorized"
    facts: tuple[tuple[str, ...], ...] = ()
    evidence: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    history: tuple[Message, ...] = field(default=())
    split: str = ""  # tune | check | … (free text): reports group by it
    #: Eligibility questions: the expected verdict (likely | unlikely | need_more_info | cannot_tell) and the
    #: conditions the checklist should quote, as groups of alternative substrings (like ``facts``).
    verdict: str | None = None
    conditions: tuple[tuple[str, ...], ...] = ()


# --- loading ----------------------------------------------------------------------------------------------

def load_questions(path: str | Path) -> list[Question]:
    """Read a ``.jsonl`` (or ``.json`` lines) or ``.csv`` question file.

    Required: ``id``, ``question``. Defaults for missing/empty cells: ``lang`` detected from the question,
    ``category`` "uncategorized", list columns empty, ``answerable`` true when facts or evidence are given.
    Raises :class:`InputError` naming the file and line of the first bad row.
    """
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read question file {path}: {exc.strerror or exc}") from None
    rows: list[tuple[int, Mapping[str, Any]]] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(raw.splitlines(keepends=True))
        for cells in reader:
            if any((v or "").strip() for v in cells.values() if isinstance(v, str)):
                rows.append((reader.line_num, cells))
    else:
        for lineno, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno}: not valid JSON ({exc.msg}); each line must be one "
                                 "JSON object") from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            rows.append((lineno, obj))
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for lineno, row in rows:
        try:
            q = _question(row)
        except (ValueError, TypeError) as exc:
            raise InputError(f"{path}:{lineno}: {exc}") from None
        if q.id in seen:
            raise InputError(f"{path}:{lineno}: duplicate id {q.id!r} (first on line {seen[q.id]})")
        seen[q.id] = lineno
        questions.append(q)
    if not questions:
        raise InputError(f"{path}: no questions found")
    return questions


def _question(row: Mapping[str, Any]) -> Question:
    def text(name: str, default: str = "") -> str:
        value = row.get(name)
        if value is None or value == "":
            return default
        if not isinstance(value, str | int):
            raise ValueError(f"{name!r} must be a string")
        return str(value).strip()

    def as_list(name: str) -> list[Any]:
        value = row.get(name)
        if isinstance(value, str):  # CSV cell: a JSON string, or empty
            if not value.strip():
                return []
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError(f"{name!r} must be a JSON list, got {value[:40]!r}") from None
        if value is None:
            return []
        if not isinstance(value, list):
            raise ValueError(f"{name!r} must be a list")
        return value

    def strings(items: Iterable[Any], name: str) -> tuple[str, ...]:
        out = tuple(s for s in items if isinstance(s, str) and s.strip())
        if len(out) != len(list(items)):
            raise ValueError(f"{name!r} must hold non-empty strings")
        return out

    qid, question = text("id"), text("question")
    if not qid:
        raise ValueError("missing 'id'")
    if not question:
        raise ValueError("missing 'question'")
    lang = text("lang") or detect_lang(question)
    if lang not in LANGS:
        raise ValueError(f"'lang' is {lang!r}; expected one of {', '.join(LANGS)}")
    # A group may be written as a bare string: one fact with no alternatives.
    facts = tuple(strings([g] if isinstance(g, str) else g, "facts") for g in as_list("facts")
                  if not isinstance(g, list) or g)
    evidence, forbidden = strings(as_list("evidence"), "evidence"), strings(as_list("forbidden"), "forbidden")
    history = []
    for turn in as_list("history"):
        if not isinstance(turn, dict) or turn.get("role") not in ("system", "user", "assistant") \
                or not isinstance(turn.get("content"), str):
            raise ValueError("'history' must be a list of {\"role\": user|assistant|system, \"content\": str}")
        history.append(Message(turn["role"], turn["content"]))
    answerable = row.get("answerable")
    if isinstance(answerable, str):
        flag = answerable.strip().lower()
        if flag in ("true", "1", "yes", "y"):
            answerable = True
        elif flag in ("false", "0", "no", "n"):
            answerable = False
        elif flag == "":
            answerable = None
        else:
            raise ValueError(f"'answerable' must be true or false, got {answerable!r}")
    if answerable is None:
        answerable = bool(facts or evidence)
    if not isinstance(answerable, bool):
        raise ValueError("'answerable' must be true or false")
    verdict = text("verdict") or None
    if verdict is not None and verdict not in VERDICTS:
        raise ValueError(f"'verdict' is {verdict!r}; expected one of {', '.join(VERDICTS)}")
    conditions = tuple(strings([g] if isinstance(g, str) else g, "conditions") for g in as_list("conditions")
                       if not isinstance(g, list) or g)
    return Question(id=qid, question=question, lang=lang, answerable=answerable,
                    category=text("category", "uncategorized"), facts=facts, evidence=evidence,
                    forbidden=forbidden, history=tuple(history), split=text("split"), verdict=verdict,
                    conditions=conditions)
