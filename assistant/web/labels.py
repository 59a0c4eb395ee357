"""Readable names for cited passages, the same in the web chat, the widget and the API (``CitationOut.label``).

A reader should see which policy and where in it, never an internal file name:

>>> from assistant.data import Citation
>>> c = Citation(n=1, chunk_id="c", source="plan.md", title="规划", section="二、税收", quote="…", start=0, end=1,
...              doc_no="国发〔2023〕12号")
>>> citation_label(c)
'国发〔2023〕12号 · 二、税收'
"""

from __future__ import annotations

import re

from assistant.data import Citation
from assistant.lang import LANGS
from assistant.messages import text as message

#: Longest piece of a label (document or section part) before it is cut.
LABEL_CHARS = 22
_CODE = re.compile(r"^([A-Z]{1,3}\d{1,3})\s+")  # an entry code leading a section heading ("P06 《…》")


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (whole when it fits)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def citation_label(c: Citation) -> str:
    """A readable name for a cited passage: the policy and where in it, never a file name.

    ``P06 《财政部 税务总局关于…》 · 二、税收`` for a coded entry of a policy list,
    ``国发〔2023〕12号 · 二、总体要求 › 2.`` for a document with a number, the (shortened) title otherwise.
    """
    parts = [p.strip() for p in c.section.split("›") if p.strip()]
    for i, part in enumerate(parts):
        m = _CODE.match(part)
        if m:  # a coded entry names itself; the heading above it says where it sits
            doc_no = c.meta.get("doc_no") if isinstance(c.meta.get("doc_no"), str) else None
            entry = f"{m.group(1)} {doc_no or shorten(part[m.end():], LABEL_CHARS)}"
            return " · ".join([entry, *(shorten(p, LABEL_CHARS) for p in parts[:i][:1])])
    head = c.doc_no or shorten(c.title, LABEL_CHARS)
    where = " › ".join(shorten(p, LABEL_CHARS) for p in parts[-2:])
    return f"{head} · {where}" if where else head


def validity_label(c: Citation, lang: str) -> str | None:
    """A cited policy's lifecycle in ``lang``: its status today and the dates it comes from, as the web chat
    shows it (the widget builds the same from the API's fields and the same ``lifecycle.*`` strings).

    >>> c = Citation(n=1, chunk_id="c", source="p06.md", title="P06", section="", quote="…", start=0, end=1,
    ...              meta={"lifecycle": "in_force", "effective_from": "2023-01-01", "expires": "2027-12-31"})
    >>> validity_label(c, "zh-Hans"), validity_label(c, "en")
    ('现行有效（自2023-01-01起，至2027-12-31）', 'in force (from 2023-01-01, until 2027-12-31)')
    """
    status = c.meta.get("lifecycle")
    if not status:
        return None
    lang = lang if lang in LANGS else "zh-Hans"
    parts = [message(f"lifecycle.{key}", lang).format(**{name: c.meta[field]})
             for key, name, field in (("from", "date", "effective_from"), ("until", "date", "expires"),
                                      ("by", "doc", "superseded_by")) if c.meta.get(field)]
    word = message(f"lifecycle.{status}", lang)
    if not parts:
        return word
    return f"{word} ({', '.join(parts)})" if lang == "en" else f"{word}（{'，'.join(parts)}）"
