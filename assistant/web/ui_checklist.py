"""The web chat's eligibility checklist: an answer's conditions, statuses, verdict and office as HTML.

Each condition is quoted from the sources with where it comes from; its status says whether what the user
said meets it. An ``unknown`` condition has 是/否 buttons (``button.hp-fact``) that carry, in a hidden
``span.hp-ask-q`` (gradio's sanitiser drops ``data-`` attributes), the question asked again with that fact
added, composed on the server by :func:`assistant.answering.eligibility.render.with_fact` (the widget's
``ask_yes`` / ``ask_no`` come from it too); ``static/webchat.js`` asks it as if typed. Every label comes from
the message file of the answer's language. Text from documents and users is escaped; nothing here carries an
event attribute.
"""

from __future__ import annotations

import html

from assistant.answering.eligibility.render import with_fact
from assistant.data import Answer, ChecklistItem, Citation
from assistant.messages import text as message
from assistant.web.labels import citation_label


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _source(c: Citation | None, answer: Answer, turn: int) -> str:
    """Where a quote comes from; a link to the answer's footnote when the answer cites that very quote."""
    if c is None:
        return ""
    where = f"{c.title} · {c.section}" if c.section else c.title
    note = next((f for f in answer.citations if f.n == c.n and f.chunk_id == c.chunk_id and f.quote == c.quote), None)
    ref = f' <a class="hp-ref" href="#hp-fn-{turn}-{int(c.n)}" title="[{int(c.n)}]">[{int(c.n)}]</a>' if note else ""
    return f' <span class="hp-ci-src" title="{_esc(where)}">— {_esc(citation_label(c))}{ref}</span>'


def _item(answer: Answer, item: ChecklistItem, turn: int) -> str:
    lang = answer.lang
    status = message(f"eligibility.status.{item.status}", lang)
    quote = _esc(item.condition) if item.kind == "missing" else f"“{_esc(item.condition)}”"
    # hp-ci-by-*: who set the status (terms, model, both), for styling and tests; the text is the same.
    parts = [f'<li class="hp-ci hp-ci-{_esc(item.status)} hp-ci-by-{_esc(item.judged_by)}">',
             f'<span class="hp-ci-st">{_esc(status)}</span> <span class="hp-ci-q">{quote}</span>',
             _source(item.citation, answer, turn)]
    if item.user_words:
        parts.append(f' <span class="hp-ci-said">({_esc(message("eligibility.you_said", lang))}: '
                     f"“{_esc(item.user_words)}”)</span>")
    if item.status == "unknown":
        buttons = "".join(
            f'<button class="hp-fact" type="button">{_esc(message(key, lang))}'
            f'<span class="hp-ask-q" hidden>{_esc(with_fact(answer.question, item, met, lang))}</span></button>'
            for met, key in ((True, "eligibility.yes"), (False, "eligibility.no")))
        parts.append(f' <span class="hp-ci-ask">{buttons}</span>')
    parts.append("</li>")
    return "".join(parts)


def render_checklist(answer: Answer, turn: int = 0) -> str:
    """The answer's checklist as one HTML block (empty for an answer without one): title, the conditions,
    the verdict, what the policy gives, the competent office and "official texts prevail"."""
    if answer.verdict is None:
        return ""
    lang = answer.lang
    out = [f'<div class="hp-checklist" id="hp-check-{turn}" data-verdict="{_esc(answer.verdict)}">',
           f'<div class="hp-checklist-h">{_esc(message("eligibility.title", lang))}</div>',
           f'<ul class="hp-ci-list">{"".join(_item(answer, i, turn) for i in answer.checklist)}</ul>',
           f'<div class="hp-verdict hp-verdict-{_esc(answer.verdict)}">'
           f'{_esc(message(f"eligibility.verdict.{answer.verdict}", lang))}</div>']
    benefit = answer.meta.get("benefit")
    if isinstance(benefit, Citation):
        out.append(f'<div class="hp-benefit">{_esc(message("eligibility.benefit", lang))} '
                   f"“{_esc(benefit.quote)}”{_source(benefit, answer, turn)}</div>")
    office = answer.meta.get("office")
    if isinstance(office, Citation):
        out.append(f'<div class="hp-office">{_esc(message("eligibility.office", lang))} '
                   f"“{_esc(office.quote)}”{_source(office, answer, turn)}</div>")
    out.append(f'<div class="hp-prevail">{_esc(message("eligibility.prevail", lang))}</div></div>')
    return "".join(x.replace("\n", " ") for x in out)
