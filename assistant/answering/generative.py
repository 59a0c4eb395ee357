"""The generative answerer: the chat model writes the answer from numbered evidence; nothing unchecked is shown.

The prompt starts with the fixed system prompt (the same for every question, so llama.cpp reuses its cached
computation), then the passage text chosen by :mod:`assistant.answering.context` within a token budget
(``context="window"``, the default: the evidence sentences with their neighbours), numbered ``[1]..[n]``,
fenced so their text cannot close the block (:func:`~assistant.answering.output_checks.fence`), then the
question. The model's reply is cut into sentences as
it streams (a list item's ordinal is no sentence end); each complete sentence is checked before it is shown:

- ``NO_ANSWER`` first → :class:`ModelDeclined` (the orchestrator declines in the decline format);
- the system prompt (its canary or a long stretch of it), or a URL, phone number or e-mail address that is
  not in the passages → the sentence is dropped;
- questions and sentences made only of the question's words (the model parroting), repeats, and Chinese in an
  English answer beyond names quoted from the passages (a list of ports may name them in Chinese) are dropped;
- every other sentence is attributed to the passage that supports it
  (:class:`~assistant.answering.attribution.Attributor`: its figures must be in it, its wording or meaning
  close), whatever markers the model wrote; unsupported ones are dropped with a notice.

A Chinese answer that carries too little of the best evidence quote (a small model's "有。", or the wrong
item of a list) is followed by that quote, verbatim, cited and labelled ``原文：``; an English answer that gives
none of the dates or amounts asked for, by those the quote states, in English and cited
(:mod:`assistant.answering.backstop`). An English question's prompt lists the glossary's English names of the
passages' terms (行政长官 = chief executive), which the model otherwise renders in words of its own.

Markers are numbered in order of first citation as sentences are shown, so the streamed text is the final
text. A reply of which no cited sentence remains raises :class:`UnverifiedAnswer`; any backend failure raises
:class:`~assistant.errors.LLMError`. The orchestrator turns both into the quoted answer with a notice.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from assistant.answering.attribution import (
    Attributor,
    Block,
    SentenceStream,
    marker_free,
    overlap,
    without_ordinal,
)
from assistant.answering.backstop import MIN_CARRIED, carried, leaves_out
from assistant.answering.budget import Deadline
from assistant.answering.citations import figures, make_citation
from assistant.answering.context import Span, blocks
from assistant.answering.context import pieces as context_pieces
from assistant.answering.extractive import one_line
from assistant.answering.lead import ITEM_SEPARATOR, asked_for
from assistant.answering.llm import ChatModel, collect
from assistant.answering.output_checks import (
    chinese_beyond_names,
    fence,
    foreign_contacts,
    gives_orders,
    is_no_answer,
    leaks_prompt,
    mentions_no_answer,
)
from assistant.answering.output_checks import says_not_given as not_given
from assistant.answering.prompts import Prompts
from assistant.answering.query import Query
from assistant.data import Answer, Citation, Delta, Message, Passage, Usage
from assistant.errors import LLMError
from assistant.lang import to_simplified, to_traditional
from assistant.messages import text as message
from assistant.text.markers import marker_numbers

log = logging.getLogger(__name__)

_END = re.compile(r"[。．.！!？?；;：:]$")



class UnverifiedAnswer(LLMError):
    """The model answered, but nothing in its answer could be tied to a source passage."""

    def __init__(self, reason: str, usage: Usage | None = None, raw: str = "") -> None:
        super().__init__(reason)
        self.usage = usage or Usage()  # what the call cost, although its answer is not shown
        self.raw = raw  # what the model wrote, for whoever reads the log or an evaluation


class ModelDeclined(Exception):  # an outcome, not a failure
    """The model said the passages do not answer (``NO_ANSWER``)."""

    def __init__(self, usage: Usage | None = None) -> None:
        super().__init__("the model found no answer in the passages")
        self.usage = usage or Usage()


class GenerativeAnswerer:
    """Answers with ``chat_model`` from the evidence; also condenses follow-ups into standalone questions.

    ``embed`` (texts → unit vectors, e.g. the query embedder) lets attribution compare meaning across languages;
    ``expand`` (English text → the glossary's Chinese terms for it) lets it compare wording across them.
    """

    def __init__(self, chat_model: ChatModel, prompts: Prompts, count_tokens: Callable[[str], int], *,
                 context_tokens: int = 2500, max_tokens: int = 700, context: str = "window",
                 embed: Callable[[list[str]], np.ndarray] | None = None,
                 expand: Callable[[str], Sequence[str]] | None = None,
                 names: Callable[[str], Sequence[tuple[str, str]]] | None = None,
                 english: Callable[[str], str | None] | None = None,
                 min_carried: float = MIN_CARRIED) -> None:
        self.chat_model = chat_model
        self.prompts = prompts
        self.count_tokens = count_tokens
        self.context_tokens = context_tokens
        self.max_tokens = max_tokens
        self.context_kind = context  # "window", "passages" or "evidence": see assistant.answering.context
        self.embed = embed
        self.expand = expand
        self.names = names  # text → its Chinese terms with their English names (the glossary's), for English
        self.english = english  # a Chinese term → the glossary's English phrase (units of the source's facts)
        #: Below this share of the best quote's wording in the checked answer, the quote is added (0: never, nor
        #: the source's facts after an English answer).
        self.min_carried = min_carried
        #: In the system prompt; an answer containing it is leaking the prompt. One per process: the prompt's
        #: prefix stays the same across requests, so the server can reuse its cached computation.
        self.canary = "PK-" + secrets.token_hex(6)

    @property
    def name(self) -> str:
        return self.chat_model.name

    def system_prompt(self) -> str:
        """The system prompt of every answer: byte-identical for the life of this answerer (see ``canary``)."""
        return self.prompts.render("system", canary=self.canary)

    def prime(self, timeout_s: float = 60.0) -> Usage | None:
        """Have the model read the start every answer prompt shares (the system prompt and the answer template up
        to its passages) once, so that the first question finds it in the server's prompt cache instead of
        reading it (~230 tokens, ~3.5 s on 2 cores). None when the model fails: the first question pays then."""
        user = self.prompts.render("answer", passages="", names="", question="", language="")
        try:
            return collect(self.chat_model.stream([Message("system", self.system_prompt()), Message("user", user)],
                                                  max_tokens=1, timeout_s=timeout_s))[1]
        except LLMError as exc:
            log.warning("the chat model could not read the system prompt ahead of the first question: %s", exc)
            return None

    def condense(self, question: str, history: Sequence[Message], deadline: Deadline | None = None) -> str | None:
        """The follow-up ``question`` rewritten as a standalone question, or None when the model fails."""
        convo = "\n".join(f"{m.role}: {fence(m.content)}" for m in history[-6:])
        prompt = self.prompts.render("condense_question", history=convo, question=fence(question))
        timeout = deadline.remaining() if deadline is not None else None
        try:
            text = collect(self.chat_model.stream([Message("user", prompt)], max_tokens=120, timeout_s=timeout))[0]
        except LLMError:
            return None
        text = text.strip()
        return text.splitlines()[0] if 2 <= len(text) <= 4 * len(question) + 200 else None

    def pieces(self, query: Query, passages: Sequence[Passage], spans: Sequence[Span]) -> list[Span]:
        """The passage text to show the model (:func:`assistant.answering.context.pieces`)."""
        return context_pieces(self.context_kind, query, passages, spans, self.count_tokens, self.context_tokens)

    def context(self, pieces: Sequence[Span]) -> tuple[str, list[Passage], list[Block], list[tuple[int, int]]]:
        """The numbered blocks within the context token budget (:func:`assistant.answering.context.blocks`)."""
        return blocks(pieces, self.count_tokens, self.context_tokens)

    def stream(self, query: Query, passages: Sequence[Passage], spans: Sequence[Span] = (),
               deadline: Deadline | None = None) -> Iterator[Delta | Answer]:
        """Yield checked sentences as the model writes them, then the :class:`Answer`."""
        lang = query.lang
        context, used, blocks, block_spans = self.context(self.pieces(query, passages, spans))
        system = self.system_prompt()
        user = self.prompts.render("answer", passages=context, names=self._names(context, lang),
                                   question=fence(query.standalone), language=message("language.name", lang))
        attributor = Attributor(blocks, self.embed, expand=self.expand)
        check = _Checker(attributor, system, self.canary, "\n".join(b.passage_text for b in blocks), lang,
                         query.standalone)
        splitter = SentenceStream()
        raw: list[str] = []
        usage: Usage | None = None
        timeout = deadline.remaining() if deadline is not None else None
        for event in self.chat_model.stream([Message("system", system), Message("user", user)],
                                            max_tokens=self.max_tokens, timeout_s=timeout):
            if isinstance(event, Usage):
                usage = event
                continue
            raw.append(event)
            for sentence in splitter.feed(event):
                if (shown := check.sentence(sentence, usage)) is not None:
                    yield Delta(shown)
        for sentence in splitter.flush():
            if (shown := check.sentence(sentence, usage)) is not None:
                yield Delta(shown)
        if usage is None or usage.total_tokens == 0:
            usage = Usage(self.count_tokens(system + user), self.count_tokens("".join(raw)),
                          usage.queue_s if usage is not None else 0.0)
        if check.declined:
            raise ModelDeclined(usage)
        if not check.mapping:
            reason = "the model's answer cited no source passage"
            raise UnverifiedAnswer(f"{reason} ({'; '.join(check.dropped[:3])})" if check.dropped else reason, usage,
                                   raw="".join(raw))
        line, extra = "", list[Citation]()
        if spans and self.min_carried > 0:
            line, extra = self._source_words(query, spans[0], check, used)
            if line:
                yield Delta(line)
        citations = (*(make_citation(n, used[b], block_spans[b]) for b, n in check.mapping.items()), *extra)
        notice = message("note.removed", lang) if check.unsupported else None
        yield Answer(question=query.original, text="".join(check.shown).rstrip(), citations=citations,
                     answerable=True, mode="llm", model=self.chat_model.name, lang=lang, passages=tuple(passages),
                     notice=notice, usage=usage,
                     meta={"standalone": query.standalone, "unsupported": check.unsupported,
                           "dropped": check.dropped, "raw": "".join(raw), "source_words": bool(line) and lang != "en",
                           "source_facts": bool(line) and lang == "en"})

    def _names(self, context: str, lang: str) -> str:
        """For an English answer, the glossary's English names of the passages' terms, as a line of the prompt:
        a small model otherwise renders 行政长官 "administrative chief" and 国务院 "the government"."""
        pairs = self.names(context) if self.names is not None and lang == "en" else []
        if not pairs:
            return ""
        listed = "; ".join(f"{zh} = {en}" for zh, en in pairs)
        return "\n" + self.prompts.render("answer_names", names=fence(listed)).strip() + "\n"

    def _source_words(self, query: Query, best: Span, check: _Checker,
                      used: Sequence[Passage]) -> tuple[str, list[Citation]]:
        """The best evidence quote as a labelled, cited line when the checked (Chinese) answer carries too little
        of it; after an English answer that gives none of the dates or amounts asked for that the quote states,
        those, in English (:mod:`assistant.answering.backstop`). With its citation when its passage is not
        cited yet; else ''."""
        passage, (start, end) = best
        quote = one_line(passage.chunk.text[start - passage.chunk.start : end - passage.chunk.start])
        answer = "".join(check.shown)
        if not quote:
            return "", []
        if check.lang == "en":
            asked = asked_for(query.standalone, quote, self.english, query.expansion) if self.english else None
            if asked is None or not leaves_out(answer, asked[1], quote):
                return "", []
            key, fill = "answer.source_facts", {"items": ITEM_SEPARATOR[asked[0]].join(asked[1])}
        elif carried(answer, quote, query.standalone) >= self.min_carried:
            return "", []
        else:
            key, fill = "answer.source_words", {"quote": to_traditional(quote) if check.lang == "zh-Hant" else quote}
        block = next((b for b, p in enumerate(used) if p.chunk.id == passage.chunk.id), None)
        extra: list[Citation] = []
        if block is not None:
            n = check.mapping.setdefault(block, len(check.mapping) + 1)
        else:  # cut from the prompt by the token budget: cited as the quote alone
            n = len(check.mapping) + 1
            extra.append(make_citation(n, passage, (start, end)))
        text = message(key, check.lang).format(**fill, n=n)
        line = ("\n" if check.shown and not check.shown[-1].endswith("\n") else "") + text
        check.shown.append(line)
        return line, extra


class _Checker:
    """The per-answer state of the sentence checks: what was shown, dropped, and the marker numbering."""

    def __init__(self, attributor: Attributor, system: str, canary: str, passages_text: str, lang: str,
                 question: str = "") -> None:
        self.attributor = attributor
        self.system, self.canary, self.passages_text, self.lang = system, canary, passages_text, lang
        self.question = question
        self.mapping: dict[int, int] = {}  # block index (0-based) → answer marker number
        self.shown: list[str] = []
        self.unsupported: list[str] = []
        self.dropped: list[str] = []
        self.declined = False
        self._seen: set[str] = set()

    def _drop(self, sentence: str, why: str) -> str | None:
        self.dropped.append(f"{why}: {sentence[:80]}")
        return None

    def sentence(self, raw: str, usage: Usage | None) -> str | None:
        """The text to show for one model sentence (with its marker), or None to drop it."""
        if self.declined:
            return None
        if not self.shown and not self.dropped and is_no_answer(raw):
            self.declined = True
            return None
        sep = raw[len(raw.rstrip()):]
        text, hints = marker_free(raw), marker_numbers(raw)
        if not text.strip(" -*#•>。.，,：:"):
            return None
        if mentions_no_answer(text):
            return self._drop(text, "no-answer phrase")
        if leaks_prompt(text, self.system, self.canary):
            return self._drop(text, "system prompt")
        if gives_orders(text):
            return self._drop(text, "instructions")
        if foreign := foreign_contacts(text, self.passages_text):
            return self._drop(text, f"contact not in the passages ({foreign[0]})")
        key = re.sub(r"\W", "", to_simplified(text)).lower()
        if text.rstrip().endswith(("?", "？")) or key in self._seen or self._parrots(text):
            return self._drop(text, "question or repeat")
        self._seen.add(key)
        if self.lang == "en" and chinese_beyond_names(text, self.passages_text):
            return self._drop(text, "not in English")
        if not_given(text) and not any(c.isdigit() for c in text):
            return self._emit(text, None, sep)
        verdict = self.attributor.attribute(without_ordinal(text), hints)
        if verdict.block is None:
            self.unsupported.append(text)
            return self._drop(text, verdict.reason)
        return self._emit(text, self.mapping.setdefault(verdict.block, len(self.mapping) + 1), sep)

    def _parrots(self, text: str) -> bool:
        """Is ``text`` only the question's own words ("審批會唔會快啲。" after "…審批會唔會快啲？"), with no figure
        the question lacks? It says nothing, and the passage it would be attributed to does not support it."""
        return (bool(self.question) and overlap(text, self.question) >= 1.0
                and figures(text) <= figures(self.question))

    def _emit(self, text: str, n: int | None, sep: str) -> str:
        body = text.strip()
        if self.lang == "zh-Hant":
            body = to_traditional(body)
        if n is not None:
            m = _END.search(body)
            body = f"{body[: m.start()]}[{n}]{body[m.start():]}" if m else f"{body}[{n}]"
        lead = " " if self.lang == "en" and self.shown and not self.shown[-1][-1:].isspace() else ""
        piece = lead + body + ("\n" if "\n" in sep else "")
        self.shown.append(piece)
        return piece
