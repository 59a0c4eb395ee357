"""The decliner: a short, polite answer for questions the sources do not answer (or injections).

Three lines in the asker's language: that the sources do not answer (and no guess is made); the closest
topics the retrieved passages cover, offered as follow-up questions (``Answer.suggestions``, for a UI to
make clickable); and the park's official channel, one sentence quoted (and cited) from the corpus itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from assistant.answering.citations import make_citation
from assistant.answering.extractive import one_line
from assistant.answering.output_checks import contact_parts
from assistant.answering.prompts import Prompts
from assistant.answering.topics import Topics
from assistant.data import Answer, Citation, Passage
from assistant.knowledge.chunking import split_sentences, strip_item_marker
from assistant.knowledge.reader import IndexReader
from assistant.lang import Lang, to_traditional
from assistant.messages import text as message

MAX_SUGGESTIONS = 3


class Decliner:
    """Builds decline answers (see the module docstring). ``reason`` is ``no-evidence`` or ``injection``."""

    def __init__(self, reader: IndexReader, prompts: Prompts, topics: Topics | None = None) -> None:
        self.reader = reader
        self.prompts = prompts
        self.topics = topics or Topics()
        self._channel: tuple[str, Passage] | None = None
        self._channel_looked_up = False  # the official-channel sentence is looked up on first decline

    def decline(self, question: str, lang: Lang, passages: Sequence[Passage], *, reason: str,
                coverage: float | None = None, missing: str | None = None,
                gap: tuple[Passage, tuple[int, int]] | None = None, places: Sequence[tuple[str, str]] = ()) -> Answer:
        """``missing``: the kind of detail asked for (``date``, ``money``, ``contact``) that the passages,
        though on the topic, do not state; the first line then says so. ``gap``: the passage span saying the
        sources could not read what is asked (``missing`` is ``unread``), quoted and cited in that line.
        ``places``: the other zones asked about (``missing`` is ``place``), or the groups a rule is asked for
        (``group``), as (Chinese, English name), named in that line."""
        channel = self.official_channel()
        suggestions = self.suggestions(passages if reason != "injection" else [], lang)
        citations: tuple[Citation, ...] = ()
        if channel is not None:
            sentence, passage = channel
            citation = make_citation(1, passage, _span_of(passage, sentence))
            shown = strip_item_marker(one_line(sentence))
            if lang == "zh-Hant":  # shown in Traditional characters; the citation keeps the exact source text
                shown = to_traditional(shown)
                shown_quote = to_traditional(citation.quote)
                citation = dataclasses.replace(citation, meta={**citation.meta, "shown": shown_quote})
            citations = (citation,)
            channel_text = f"{shown}[1]"
            sites = contact_parts(shown)[1]
            if lang == "en" and sites:  # the address first, then the source's own (Chinese) words
                channel_text = message("decline.channel.site", lang).format(site=sites[0], quote=channel_text)
        else:
            channel_text = message("decline.channel", lang)
        if missing == "unread" and gap is not None:
            gap_citation = make_citation(len(citations) + 1, gap[0], gap[1])
            shown = strip_item_marker(one_line(gap_citation.quote))
            if lang == "zh-Hant":
                shown = to_traditional(shown)
                gap_citation = dataclasses.replace(gap_citation, meta={**gap_citation.meta, "shown": shown})
            citations = (*citations, gap_citation)
            lead = message("decline.unread", lang).format(quote=f"{shown}[{gap_citation.n}]")
        elif missing == "place" and places and reason == "no-evidence":
            lead = message("decline.place", lang).format(place=_place_names(places, lang))
        elif missing == "group" and places and reason == "no-evidence":
            lead = message("decline.group", lang).format(group=_place_names(places, lang))
        elif missing is not None and missing != "unread" and reason == "no-evidence":
            lead = message("decline.detail", lang).format(detail=message(f"kind.{missing}", lang))
        else:
            lead = message(f"decline.{reason}", lang)
        text = self.prompts.render(f"decline.{lang}", lead=lead,
                                   suggestions=message("decline.separator", lang).join(suggestions),
                                   channel=channel_text)
        return Answer(question=question, text=text, citations=citations, answerable=False, mode="decline",
                      lang=lang, passages=tuple(passages), suggestions=tuple(suggestions),
                      meta={"decline_reason": reason, "coverage": coverage,
                            **({"missing_detail": missing} if missing is not None else {})})

    def suggestions(self, passages: Sequence[Passage], lang: Lang) -> list[str]:
        """Follow-up questions about the topics of the nearest passages (or the corpus' main topics), in
        ``lang`` (see :class:`~assistant.answering.topics.Topics`)."""
        return [self.topics.question(t, lang) for t in self.topics.nearest(passages, lang)][:MAX_SUGGESTIONS]

    def official_channel(self) -> tuple[str, Passage] | None:
        """The corpus' own sentence naming the official website (looked up once)."""
        if not self._channel_looked_up:
            self._channel_looked_up = True
            hits = self.reader.lexical_top(["官网", "办理", "渠道", "联系"], 5)
            sentences = [(chunk.text[s - chunk.start : e - chunk.start], chunk) for chunk, _ in hits
                         for s, e in split_sentences(chunk.text, base=chunk.start, clauses=False)
                         if "官网" in chunk.text[s - chunk.start : e - chunk.start]]
            # A sentence that gives the address beats one that only mentions the website.
            sentences.sort(key=lambda pair: not contact_parts(pair[0])[1])
            if sentences:
                sentence, chunk = sentences[0]
                self._channel = (sentence, Passage(chunk=chunk, score=0.0))
        return self._channel


def _span_of(passage: Passage, sentence: str) -> tuple[int, int]:
    c = passage.chunk
    i = c.text.find(sentence)
    return (c.start + i, c.start + i + len(sentence)) if i >= 0 else (c.start, c.end)


def _place_names(places: Sequence[tuple[str, str]], lang: Lang) -> str:
    """The places, as the asker reads them: English names in English (the Chinese one where there is none)."""
    if lang == "en":
        return ", ".join(english or chinese for chinese, english in places)
    names = "、".join(chinese for chinese, _ in places)
    return to_traditional(names) if lang == "zh-Hant" else names
