"""A follow-up made standalone: by the chat model when there is one (it condenses the conversation), else
from the previous turn (:func:`~assistant.answering.guard.resolve_followup`: 其中第二个 → that item of the
previous answer, recomputed extractively when the history holds only the questions).

A follow-up need not say that it is one ("啲租戶主要係邊度嚟㗎？", "and the goods inside the zone?"): when such
a question is on the park's topics but its own words do not find an answer, :meth:`FollowUps.in_context` gives
it joined to the previous question, to be tried once more."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from assistant.answering.budget import Deadline
from assistant.answering.generative import GenerativeAnswerer
from assistant.answering.guard import resolve_followup
from assistant.data import Message


class FollowUps:
    """``standalone(question, history, deadline)``; ``previous_items(question)`` gives the quoted lines of the
    extractive answer to an earlier question."""

    def __init__(self, previous_items: Callable[[str], list[str]], generative: GenerativeAnswerer | None) -> None:
        self.previous_items = previous_items
        self.generative = generative

    def standalone(self, question: str, history: Sequence[Message], deadline: Deadline) -> str:
        if not history:
            return question
        if self.generative is not None:
            condensed = self.generative.condense(question, history, deadline)
            if condensed is not None:
                return condensed
        return resolve_followup(question, history, self.previous_items)

    @staticmethod
    def in_context(question: str, history: Sequence[Message]) -> str | None:
        """``question`` after the previous user question, or ``None`` when there is none (or it is the same)."""
        previous = next((m.content.strip() for m in reversed(history) if m.role == "user"), "")
        return f"{previous} {question}" if previous and previous != question else None
