"""An answer's checklist as Markdown (OpenAI-compatible route, CLI, and the text of a checklist-only answer)."""

from __future__ import annotations

import re

from assistant.data import Answer, ChecklistItem, Citation
from assistant.messages import text as message

#: Punctuation inside a condition that would split it into several of the user's clauses when asked again.
_INNER_PUNCT = re.compile(r"[，,。；;：:\s]+")
_BOX = {"met": "[x]", "unmet": "[ ]", "unknown": "[ ]", "missing": "[ ]"}


def _where(c: Citation | None) -> str:
    if c is None:
        return ""
    parts = [p for p in (c.doc_no, c.section) if p]
    return f" — {c.title}" + (f" ({'; '.join(parts)})" if parts else "")


def render_checklist(answer: Answer) -> str:
    """The checklist as a Markdown task list: verdict, each quoted condition with status and source,
    what the policy gives, the competent office, and "official texts prevail". Empty for an answer without a
    checklist."""
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
    benefit = answer.meta.get("benefit")
    if isinstance(benefit, Citation):
        lines.append(f"{message('eligibility.benefit', lang)} “{benefit.quote}”{_where(benefit)}")
    office = answer.meta.get("office")
    if isinstance(office, Citation):
        lines.append(f"{message('eligibility.office', lang)} “{office.quote}”{_where(office)}")
    lines.append(message("eligibility.prevail", lang))
    return "\n".join(lines)


def with_fact(question: str, item: ChecklistItem, met: bool, lang: str) -> str:
    """``question`` asked again with ``item``'s condition stated as met (the user ticked 是) or not (否).

    The one composition of a re-asked question, for every client (the API's ``ask_yes`` / ``ask_no``, the
    web chat's 是/否 buttons). The condition is quoted as one clause of the user's (its inner punctuation
    becomes 、), so its status is decided from it as a whole.

    >>> with_fact("我能申请吗？", ChecklistItem("具有香港居民身份。", "unknown", None), True, "zh-Hans")
    '我能申请吗？我已满足“具有香港居民身份”'
    """
    fact = message("eligibility.fact.yes" if met else "eligibility.fact.no", lang)
    condition = _INNER_PUNCT.sub("、", item.condition).strip("、")
    question = question.strip()
    end = "" if question.endswith(("。", "？", "?", "！", "!", ".")) else "。"
    return f"{question}{end}{fact}“{condition}”"
