"""Citations of policies that are no longer in force: marked, and the answer says so in the asker's language.

Every citation gets its document's (or section's) lifecycle fields in ``meta`` — ``lifecycle`` (the status on
the day of the answer, :func:`assistant.knowledge.lifecycle.status_of`), ``effective_from``, ``expires``,
``superseded_by``, ``scope`` — and an answer that cites an expired or superseded policy carries a notice
naming it, so nobody applies under a policy that has lapsed without being told.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from assistant.data import Answer, Citation
from assistant.knowledge.lifecycle import lifecycle_meta
from assistant.messages import text as message

#: Statuses an answer warns about, in the order its notices are given.
WARNED = ("superseded", "expired")


def mark_lifecycle(answer: Answer, today: dt.date | None = None) -> Answer:
    """``answer`` with lifecycle fields on its citations and, when a cited policy is expired or superseded,
    a notice (after any notice it already has)."""
    if not answer.citations:
        return answer
    chunks = {p.chunk.id: p.chunk for p in answer.passages}
    citations = []
    for c in answer.citations:
        chunk = chunks.get(c.chunk_id)
        fields = lifecycle_meta(chunk.meta, today) if chunk is not None else {}
        citations.append(dataclasses.replace(c, meta={**c.meta, **fields}))
    notes = [_notice(status, [c for c in citations if c.meta.get("lifecycle") == status], answer.lang)
             for status in WARNED]
    notice = " ".join(n for n in [answer.notice, *notes] if n) or None
    return dataclasses.replace(answer, citations=tuple(citations), notice=notice)


def _notice(status: str, cited: list[Citation], lang: str) -> str | None:
    if not cited:
        return None
    open_, close, sep = (" (", ")", ", ") if lang == "en" else ("（", "）", "、")
    names: dict[str, None] = {}
    for c in cited:
        detail = c.meta.get("superseded_by") if status == "superseded" else c.meta.get("expires")
        names[f"{c.title}{open_}{detail}{close}" if detail else c.title] = None
    return message(f"note.{status}", lang).format(titles=sep.join(names))
