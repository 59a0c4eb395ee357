"""Topics: the sources' sections as things to ask about.

A decline offers the nearest topics as follow-up questions ("关于“跨境数据”，资料有哪些内容？", "What do the
sources say about cross-border data flows?"), in the asker's language: English names come from
``index/topics.tsv``. When such a question comes back (the user clicked it), :meth:`Topics.overview` finds
the section it names, and the answer quotes that section's opening — a suggestion we offer always leads
somewhere, whatever retrieval would make of its generic wording.

>>> Topics({"跨境数据": "cross-border data flows"}).asked("What do the sources say about cross-border data flows?")
'跨境数据'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from assistant.data import Chunk, Passage
from assistant.lang import LANGS, Lang, to_simplified, to_traditional
from assistant.messages import text as message

#: Section names that are list labels or enumerations (1., （二）, 一是), not topics.
_NOT_A_TOPIC = re.compile(r"^[\d（(]|^[一二三四五六七八九十]+是")
_ORDINAL_PREFIX = re.compile(r"^[〇一二三四五六七八九十]+、|^（[一二三四五六七八九十]+）|^P\d+\s*")
#: How much of a section an overview quotes: its first chunks, up to this many.
OVERVIEW_CHUNKS = 2


def topic_name(chunk: Chunk) -> str | None:
    """The topic ``chunk`` belongs to: its deepest section name that is no list label, numbering removed."""
    section = [s for s in chunk.section[1:] if not _NOT_A_TOPIC.match(s)]
    if not section:
        return None
    name = _ORDINAL_PREFIX.sub("", section[-1]).strip()
    return name if name and len(name) <= 24 else None


def load_topic_names(path: Path | None) -> dict[str, str]:
    """Read ``section name<TAB>English name`` lines (``#`` comments)."""
    if path is None or not path.exists():
        return {}
    names: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        zh, en = (part.strip() for part in line.split("\t", 1))
        if zh and en:
            names[zh] = en
    return names


class Topics:
    """The sections' names in the askers' languages, the follow-up questions naming them, and the way back
    from such a question to its section."""

    def __init__(self, english: Mapping[str, str] | None = None) -> None:
        self.english = dict(english or {})  # section name → English name
        self._by_english = {en.lower(): zh for zh, en in self.english.items()}
        self._asks = {lang: _template_pattern(message("decline.suggestion", lang)) for lang in LANGS}

    def nearest(self, passages: Sequence[Passage], lang: Lang) -> list[str]:
        """The topics of the nearest passages, named in ``lang`` (an English asker is offered only the topics
        that have an English name), or the corpus' main topics."""
        names = list(dict.fromkeys(n for p in passages[:6] if (n := topic_name(p.chunk)) is not None))
        if lang == "en":
            return [self.english[n] for n in names if n in self.english] or \
                message("decline.topics.default", "en").split("; ")
        names = names or message("decline.topics.default", "zh-Hans").split("、")
        return [to_traditional(n) for n in names] if lang == "zh-Hant" else names

    def question(self, topic: str, lang: Lang) -> str:
        """The follow-up question about ``topic`` (already named in ``lang``)."""
        return message("decline.suggestion", lang).format(topic=topic)

    def asked(self, question: str) -> str | None:
        """The section name a follow-up question of ours asks about (in any language), else None."""
        for pattern in self._asks.values():
            m = pattern.fullmatch(question.strip())
            if m:
                topic = m.group("topic").strip()
                return self._by_english.get(topic.lower(), to_simplified(topic))
        return None

    def overview(self, question: str, chunks: Sequence[Chunk]) -> list[Passage]:
        """The opening passages of the section that ``question`` (one of our follow-up questions) names;
        empty when it is no such question or no section has that name."""
        name = self.asked(question)
        if name is None:
            return []
        found = [c for c in chunks if topic_name(c) == name]
        return [Passage(chunk=c, score=1.0) for c in found[:OVERVIEW_CHUNKS]]


def _template_pattern(template: str) -> re.Pattern[str]:
    head, _, tail = template.partition("{topic}")
    return re.compile(re.escape(head) + r"(?P<topic>.+?)" + re.escape(tail), re.I)
