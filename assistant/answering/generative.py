"""The generative answerer: the chat model writes the answer from numbered passages; citations verified.

The passages go into the prompt as ``[1]..[n]`` within a token budget; the model's reply is streamed as
it comes, then its markers are checked (unknown numbers dropped), every cited sentence is verified against
its passages (:func:`assistant.answering.citations.verify_claims`), unsupported sentences are removed
with a notice, and the markers are renumbered in order of first citation. A reply that cites nothing
raises :class:`UnverifiedAnswer`; any backend failure raises :class:`~assistant.errors.LLMError`. The
orchestrator turns both into the quoted answer with a notice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence

from assistant.answering.citations import make_citation, parse_markers, renumber, strip_unknown_markers, verify_claims
from assistant.answering.llm import ChatModel, collect
from assistant.answering.prompts import Prompts
from assistant.answering.query import Query
from assistant.data import Answer, Delta, Message, Passage, Usage
from assistant.errors import LLMError
from assistant.messages import text as message


class UnverifiedAnswer(LLMError):
    """The model answered, but nothing in its answer could be tied to a source passage."""

    def __init__(self, reason: str, usage: Usage | None = None) -> None:
        super().__init__(reason)
        self.usage = usage or Usage()  # what the call cost, although its answer is not shown


class GenerativeAnswerer:
    """Answers with ``chat_model`` from the passages; also condenses follow-ups into standalone questions."""

    def __init__(self, chat_model: ChatModel, prompts: Prompts, count_tokens: Callable[[str], int], *,
                 context_tokens: int = 2500, max_tokens: int = 700) -> None:
        self.chat_model = chat_model
        self.prompts = prompts
        self.count_tokens = count_tokens
        self.context_tokens = context_tokens
        self.max_tokens = max_tokens

    @property
    def name(self) -> str:
        return self.chat_model.name

    def condense(self, question: str, history: Sequence[Message]) -> str | None:
        """The follow-up ``question`` rewritten as a standalone question, or None when the model fails."""
        convo = "\n".join(f"{m.role}: {m.content}" for m in history[-6:])
        prompt = self.prompts.render("condense_question", history=convo, question=question)
        try:
            text = collect(self.chat_model.stream([Message("user", prompt)], max_tokens=120))[0].strip()
        except LLMError:
            return None
        return text.splitlines()[0] if 2 <= len(text) <= 4 * len(question) + 200 else None

    def context(self, passages: Sequence[Passage]) -> tuple[str, list[Passage]]:
        """Numbered passages, best first, within the context token budget."""
        blocks: list[str] = []
        used: list[Passage] = []
        budget = self.context_tokens
        for p in passages:
            c = p.chunk
            head = " · ".join(x for x in (c.title, str(c.meta.get("doc_no") or ""), c.section_path) if x)
            block = f"[{len(used) + 1}] {head}\n{c.text}"
            cost = self.count_tokens(block)
            if cost > budget and used:
                break
            blocks.append(block)
            used.append(p)
            budget -= cost
        return "\n\n".join(blocks), used

    def stream(self, query: Query, history: Sequence[Message],
               passages: Sequence[Passage]) -> Iterator[Delta | Answer]:
        """Yield the model's deltas as they come, then the verified :class:`Answer`."""
        lang = query.lang
        context, used = self.context(passages)
        system = self.prompts.render("system", today=dt.date.today().isoformat())
        user = self.prompts.render("answer", passages=context, question=query.standalone,
                                   language=message("language.name", lang))
        messages = [Message("system", system), *history[-6:], Message("user", user)]
        pieces: list[str] = []
        usage: Usage | None = None
        for event in self.chat_model.stream(messages, max_tokens=self.max_tokens):
            if isinstance(event, Usage):
                usage = event
                continue
            pieces.append(event)
            yield Delta(event)
        raw = strip_unknown_markers("".join(pieces).strip(), len(used))
        if usage is None or usage.total_tokens == 0:
            usage = Usage(self.count_tokens(system + user), self.count_tokens(raw))
        checks = verify_claims(raw, used)
        unsupported = [c for c in checks if not c.supported]
        joiner = " " if lang == "en" else ""
        kept = joiner.join(c.sentence for c in checks if c.supported) if unsupported else raw
        cited = [n for n in parse_markers(kept) if 1 <= n <= len(used)]
        if not kept.strip() or not cited:
            raise UnverifiedAnswer("the model's answer cited no source passage", usage)
        mapping = {old: new for new, old in enumerate(cited, start=1)}
        text = renumber(kept, mapping)
        citations = tuple(make_citation(mapping[n], used[n - 1]) for n in cited)
        notice = message("note.removed", lang) if unsupported else None
        yield Answer(question=query.original, text=text, citations=citations, answerable=True, mode="llm",
                     model=self.chat_model.name, lang=lang, passages=tuple(passages), notice=notice, usage=usage,
                     meta={"standalone": query.standalone, "unsupported": [c.sentence for c in unsupported]})
