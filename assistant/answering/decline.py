"""The decliner: a short, polite answer for questions the sources do not answer (or injections).

It says so in the asker's language, names the closest topics the retrieved passages cover, and points
to the park's official channel, quoted (and cited) from the corpus itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answering.citations import make_citation
from assistant.answering.extractive import one_line
from assistant.answering.prompts import Prompts
from assistant.data import Answer, Citation, Passage
from assistant.knowledge.chunking import strip_item_marker
from assistant.knowledge.reader import IndexReader
from assistant.lang import Lang, to_traditional
from assistant.messages import text as message

_WEB_ADDRESS = re.compile(r"https?://|[a-z0-9-]+\.(?:gov\.cn|gov\.hk|com|cn|hk|org)\b", re.I)


class Decliner:
    """Builds decline answers (see the module docstring). ``reason`` is ``no-evidence`` or ``injection``."""

    def __init__(self, reader: IndexReader, prompts: Prompts) -> None:
        self.reader = reader
        self.prompts = prompts
        self._channel: tuple[str, Passage] | None = None
        self._channel_looked_up = False  # the official-channel sentence is looked up on first decline

    def decline(self, question: str, lang: Lang, passages: Sequence[Passage], *, reason: str,
                coverage: float | None = None) -> Answer:
        channel = self.official_channel()
        topics = _topics(passages if reason != "injection" else [], lang)
        citations: tuple[Citation, ...] = ()
        if channel is not None:
            sentence, passage = channel
            citations = (make_citation(1, passage, _span_of(passage, sentence)),)
            channel_text = f"{strip_item_marker(one_line(sentence))}[1]"
        else:
            channel_text = message("decline.channel", lang)
        text = self.prompts.render(f"decline.{lang}", lead=message(f"decline.{reason}", lang), topics=topics,
                                   channel=channel_text)
        return Answer(question=question, text=text, citations=citations, answerable=False, mode="decline",
                      lang=lang, passages=tuple(passages), meta={"decline_reason": reason, "coverage": coverage})

    def official_channel(self) -> tuple[str, Passage] | None:
        """The corpus' own sentence naming the official website (looked up once)."""
        if not self._channel_looked_up:
            self._channel_looked_up = True
            hits = self.reader.lexical_top(["官网", "办理", "渠道", "联系"], 5)
            lines = [(line.strip(), chunk) for chunk, _ in hits for line in chunk.text.splitlines() if "官网" in line]
            # A line that gives the address beats one that only mentions the website.
            lines.sort(key=lambda ln: not _WEB_ADDRESS.search(ln[0]))
            if lines:
                line, chunk = lines[0]
                self._channel = (line, Passage(chunk=chunk, score=0.0))
        return self._channel


def _span_of(passage: Passage, sentence: str) -> tuple[int, int]:
    c = passage.chunk
    i = c.text.find(sentence)
    return (c.start + i, c.start + i + len(sentence)) if i >= 0 else (c.start, c.end)


def _topics(passages: Sequence[Passage], lang: Lang) -> str:
    """Section names of the nearest passages (or the documents' main parts) as 'closest topics'."""
    names: list[str] = []
    for p in passages[:6]:
        section = [s for s in p.chunk.section[1:] if not re.match(r"^[\d（(]|^[一二三四五六七八九十]+是", s)]
        if section:
            name = re.sub(r"^[〇一二三四五六七八九十]+、|^（[一二三四五六七八九十]+）", "", section[-1])
            if name not in names:
                names.append(name)
        if len(names) == 4:
            break
    if not names:
        return message("decline.topics.default", lang)
    joined = message("decline.topics.separator", lang).join(names)
    return to_traditional(joined) if lang == "zh-Hant" else joined
