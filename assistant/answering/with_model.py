"""Answering with the chat model, and what happens when it cannot: the generated answer streamed; the
model's "the passages do not answer" turned into a decline; any failure (unreachable, busy, timed out,
broken stream, an answer not tied to the sources) turned into the quoted answer with a notice — or into a
decline when only the model could have told whether the passages answer.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence

from assistant.answering.budget import Deadline, ModelBusy
from assistant.answering.decline import Decliner
from assistant.answering.evidence import Evidence
from assistant.answering.extractive import ExtractiveAnswerer
from assistant.answering.generative import GenerativeAnswerer, ModelDeclined, UnverifiedAnswer
from assistant.answering.query import Query
from assistant.data import Answer, Delta, Passage
from assistant.errors import LLMError
from assistant.messages import text as message

log = logging.getLogger(__name__)


class ModelAnswering:
    """The chat-model path of :class:`~assistant.answering.assistant.Assistant`, with its fallbacks."""

    def __init__(self, generative: GenerativeAnswerer, extractive: ExtractiveAnswerer, decliner: Decliner) -> None:
        self.generative = generative
        self.extractive = extractive
        self.decliner = decliner

    def stream(self, query: Query, passages: Sequence[Passage], evidence: Evidence,
               deadline: Deadline) -> Iterator[Delta | Answer]:
        """Text deltas, then the final :class:`Answer` (a fallback's text replaces what was streamed)."""
        language = query.lang
        try:
            spans = self.extractive.spans(passages, evidence.quotes)
            yield from self.generative.stream(query, passages, spans, deadline)
        except ModelDeclined as declined_by_model:
            answer = self.decliner.decline(query.original, language, passages, reason="no-evidence",
                                           coverage=evidence.coverage)
            yield from emit(dataclasses.replace(answer, usage=declined_by_model.usage,
                                                meta={**answer.meta, "declined_by": "model"}))
        except LLMError as exc:
            kind = ("unverified" if isinstance(exc, UnverifiedAnswer) else
                    "busy" if isinstance(exc, ModelBusy) else "fallback")
            # Users are told that the model failed, not where it runs: the cause (with the endpoint's address)
            # goes to the log and to answer.meta, for whoever runs the server.
            log.warning("answering without the chat model (%s): %s", kind, exc)
            if evidence.strict:
                answer = self.extractive.answer(query, passages, evidence.quotes, message("note." + kind, language))
            else:  # only the model could have told whether these passages answer: quotes would guess
                answer = self.decliner.decline(query.original, language, passages, reason="no-evidence",
                                               coverage=evidence.coverage)
            answer = dataclasses.replace(answer, meta={**answer.meta, "fallback_reason": str(exc)})
            if isinstance(exc, UnverifiedAnswer):  # the model's call was made: its tokens were spent
                answer = dataclasses.replace(answer, usage=exc.usage, meta={**answer.meta, "raw": exc.raw})
            yield from emit(answer)


def emit(answer: Answer) -> Iterator[Delta | Answer]:
    """``answer``'s text as line deltas, then ``answer``."""
    for line in answer.text.splitlines(keepends=True):
        yield Delta(line)
    yield answer
