"""An answer's checklist as Markdown (OpenAI-compatible route, CLI, and the text of a checklist-only answer)."""

from __future__ import annotations

from assistant.data import Answer, Citation
from assistant.messages import text as message

_BOX = {"met": "[x]", "unmet": "[ ]", "unknown": "[ ]", "missing": "[ ]"}


def _where(c: Citation | None) -> str:
    if c is None:
        return ""
    parts = [p for p in (c.doc_no, c.section) if p]
    return f" — {c.title}" + (f" ({'; '.join(parts)})" if parts else "")


def render_checklist(answer: Answer) -> str:
    """The checklist as a Markdown task list: verdict, each quoted condition with status and source,
    the competent office, and "official texts prevail". Empty for an answer without a checklist."""
    if answer.verdict is None:
        return ""
    lang = answer.lang
    lines = [f"**{message('eligibility.title', lang)}**", ""]
    for item in answer.checklist:
        status = message(f"eligibility.status.{item.status}", lang)
        said = f" ({message('eligibility.you_said', lang)}: “{item.user_words}”)" if item.user_words else ""
        quote = f"“{item.condition}”" if item.kind != "missing" else item.condition
        lines.append(f"- {_BOX[item.status]} {quote} — {status}{said}{_where(item.citation)}")
    lines += ["", f"**{message(f'eligibility.verdict.{answer.verdict}', lang)}**"]
    office = answer.meta.get("office")
    if isinstance(office, Citation):
        lines.append(f"{message('eligibility.office', lang)} “{office.quote}”{_where(office)}")
    lines.append(message("eligibility.prevail", lang))
    return "\n".join(lines)
