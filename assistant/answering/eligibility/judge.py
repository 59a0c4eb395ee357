"""The chat model judges a checklist's conditions against what the user said (LLM mode).

The checklist is first built as in extractive mode (:mod:`.checklist`: conditions from the index's structure,
statuses from the term and meaning match). Then one short call shows the model the listed conditions, numbered,
and the user's facts — the clauses of what they said, less the one that asks (能用吗 / can we use: what they ask
about is no fact about them), lettered ``a)``, ``b)`` … — and asks for one line per condition: ``N: met | b``
(the clause that shows it), ``N: unmet | b`` or ``N: unknown``. The model names a clause rather than copying
words: the local 1.5B model, asked to copy the user's words, mostly copied the condition's instead (具有香港居民身份
for 我是香港居民). Its copied words are still taken when they occur in a clause. It follows the format once it
has "written" it: the messages are
the instructions (``prompts/judge_conditions.txt``), one worked example and its reply
(``judge_conditions_example[.en].txt``, in the question's language) and the case (``judge_conditions_case.txt``).

Everything the model returns is checked; it can only set statuses:

* a line for a number that was not listed, a second line for a number, or a line in another format is ignored;
* a judgement must name a listed clause (its letter), or quote words that occur in one (compared in
  Simplified Chinese, lower case, without spaces and punctuation); the item then shows the user's own clause
  or span, never the model's text. A judgement without either is ignored (the term match's status stands, as
  if the model had said nothing: a judgement is worth only the words it rests on);
* conditions, their quotes and citations are never the model's: they stay as the index gave them.

With the term match's status (``judged_by`` on the item):

* term match ``unknown``, model met → met, with the model's clause (``"model"``), for a condition stating one
  requirement; one stating several (内地人才如果受雇于…，先由…备案) stays unknown: on the tune split the model
  marked such a condition met from one of them (我是内地人) and turned need_more_info into likely. Model
  unmet → only when
  ``model_unmet`` is set (off by default: on the tune split the local 1.5B model's ``unmet`` lines named the
  wrong condition in 2 of 2 cases — a pathogen quoted against the white-list condition, a Taiwan engineer
  against the overseas-talent one — while its ``met`` line was right; an unfounded ``unmet`` tells the user
  they are likely not eligible). An ``unmet`` still disputes the term match's ``met`` (below);
* both met or both unmet → kept, with the term match's words (``"both"``);
* one met, the other unmet → ``unknown`` (``"both"``): neither reading is trusted over the other, and the user
  is asked (是/否) rather than told a verdict resting on a guess;
* model ``unknown`` or no valid judgement → the term match stands (``"terms"``).

The ``missing`` row ("the sources do not give the rest") is never sent; the verdict is recomputed from the
statuses by the same rules, so an incomplete list is still never ``likely``. Faults — the model down, slow,
busy, its breaker open, a garbled reply — leave the term match's statuses, with no notice (the checklist is
whole and cited either way); why is in ``answer.meta["checklist_judge"]``. The call spends from the request's
own deadline and is skipped when less than ``min_s`` of it is left.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.answering.budget import Deadline
from assistant.answering.eligibility.cues import Cues
from assistant.answering.llm import ChatModel, collect
from assistant.answering.output_checks import fence
from assistant.answering.prompts import Prompts
from assistant.data import ChecklistItem, Message, Status, Usage
from assistant.errors import LLMError, PromptError
from assistant.lang import detect_lang, to_simplified

log = logging.getLogger(__name__)

PROMPT = "judge_conditions"
_LINE = re.compile(r"^[\s\-*•>]*\[?(\d{1,2})\]?\s*[:：.、)）]\s*\**\s*(met|unmet|not met|unknown)\b\**\s*"
                   r"(?:[|｜:：—-]\s*(.*))?$", re.IGNORECASE)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_QUOTES = "\"'“”‘’「」『』《》`*（）() "
#: How the prompt marks an exclusion (the prompt explains it).
EXCLUDED = "[excluded] "
#: Completion tokens allowed per condition (a line with a short quote of the user's words).
TOKENS_PER_ITEM = 40


@dataclass(frozen=True)
class Judgement:
    """The model's reading of one listed condition: ``status`` met/unmet, and the user's span that decided it."""

    status: Status
    words: str


@dataclass(frozen=True)
class Judged:
    """The checklist items after the model's judgement, what the call cost, and how it went."""

    items: tuple[ChecklistItem, ...]
    usage: Usage | None
    outcome: str  # "ok", "skipped: …", "failed: …", "garbled"
    raw: str = ""


class ConditionJudge:
    """Asks ``chat_model`` to judge each condition of a checklist (see the module docstring)."""

    def __init__(self, chat_model: ChatModel, prompts: Prompts, cues: Cues, min_s: float = 2.0,
                 model_unmet: bool = False) -> None:
        self.chat_model = chat_model
        self.prompts = prompts
        self.cues = cues
        self.min_s = min_s
        self.model_unmet = model_unmet  # may the model alone mark a condition unmet?

    def judge(self, items: Sequence[ChecklistItem], facts: Sequence[str], deadline: Deadline,
              parts: Sequence[int] = ()) -> Judged:
        """``items`` with the model's statuses combined in; ``facts`` are the clauses in which the user states
        their situation (earlier turns first; not the clause that asks); ``parts`` how many requirements each
        item's condition states (1 when not given)."""
        listed = [n for n, item in enumerate(items) if item.kind != "missing"]
        facts = [f.strip() for f in facts if f.strip()][: len(_LETTERS)]
        if not listed or not facts:
            return Judged(tuple(items), None, "skipped: nothing to judge")
        if deadline.remaining() < self.min_s:
            return Judged(tuple(items), None, "skipped: the request's time budget is spent")
        case = self.prompts.render(PROMPT + "_case", conditions=self.conditions([items[n] for n in listed]),
                                   said="\n".join(f"{_LETTERS[i]}) {fence(f)}" for i, f in enumerate(facts)))
        messages = [*self.instructions(detect_lang(" ".join(facts))), Message("user", case)]
        try:
            raw, usage = collect(self.chat_model.stream(messages,
                                                        max_tokens=TOKENS_PER_ITEM * len(listed) + 16,
                                                        timeout_s=deadline.remaining()))
        except LLMError as exc:
            log.warning("checklist statuses from the term match only (the model failed): %s", exc)
            return Judged(tuple(items), None, f"failed: {exc}")
        judgements = parse(raw, len(listed))
        out = list(items)
        ignored = 0
        for n, judgement in judgements.items():
            span = locate(judgement.words, facts) if judgement is not None else None
            if judgement is None or span is None:  # unknown, or words the user did not say
                ignored += judgement is not None
                continue
            index = listed[n - 1]
            several = index < len(parts) and parts[index] > 1
            if items[index].status == "unknown" and (several if judgement.status == "met" else not self.model_unmet):
                ignored += 1
                continue
            out[index] = combine(items[index], Judgement(judgement.status, span))
        outcome = "garbled" if not judgements else f"ok ({ignored} ignored)" if ignored else "ok"
        return Judged(tuple(out), usage, outcome, raw)

    def instructions(self, lang: str = "zh-Hans") -> list[Message]:
        """The system prompt and one worked example, as a user turn and the model's reply: a small model
        follows the format of a reply it has "written" far better than one described in the prompt. The
        example is in English for an English question (with a Chinese one the 1.5B model translated the
        user's words, which then matched nothing)."""
        name = PROMPT + "_example" + (".en" if lang == "en" else "")
        example, sep, reply = self.prompts.render(name).partition("\n### reply\n")
        if not sep:
            raise PromptError(f"prompt {name} has no '### reply' line between the example and its reply")
        return [Message("system", self.prompts.render(PROMPT).strip()), Message("user", example.strip()),
                Message("assistant", reply.strip())]

    def conditions(self, items: Sequence[ChecklistItem]) -> str:
        """The numbered conditions as the prompt lists them (an exclusion is marked)."""
        return "\n".join(f"{n}. {EXCLUDED if item.kind == 'exclude' else ''}{fence(item.condition)}"
                         for n, item in enumerate(items, 1))


def parse(raw: str, count: int) -> dict[int, Judgement | None]:
    """The lines of the model's reply for conditions 1..``count``: a :class:`Judgement` for met/unmet with
    words, None for ``unknown`` (or met/unmet without words). The first line for a number counts; other
    numbers and other text are left out."""
    out: dict[int, Judgement | None] = {}
    for line in raw.splitlines():
        m = _LINE.match(line.strip())
        if m is None:
            continue
        n = int(m.group(1))
        if not 1 <= n <= count or n in out:
            continue
        word = m.group(2).lower()
        words = (m.group(3) or "").strip(_QUOTES + "。.，,；;")
        out[n] = Judgement("met" if word == "met" else "unmet", words) if word != "unknown" and words else None
    return out


def locate(words: str, facts: Sequence[str]) -> str | None:
    """The user's own words that ``words`` names: a clause by its letter (``b``, ``b)``), or the span of a clause
    that matches ``words`` (normalised); None when neither."""
    letter = words.strip().strip("()（）").lower()
    if len(letter) == 1 and letter in _LETTERS:
        index = _LETTERS.index(letter)
        return facts[index] if index < len(facts) else None
    wanted, _ = _normalised(words)
    if len(wanted) < 2:
        return None
    for text in reversed(facts):  # the newest first
        norm, where = _normalised(text)
        at = norm.find(wanted)
        if at >= 0:
            return text[where[at] : where[at + len(wanted) - 1] + 1]
    return None


def combine(item: ChecklistItem, judgement: Judgement) -> ChecklistItem:
    """One item's status from the term match's and the model's (see the module docstring)."""
    if item.status == "unknown":
        return dataclasses.replace(item, status=judgement.status, user_words=judgement.words, judged_by="model")
    if item.status == judgement.status:
        return dataclasses.replace(item, judged_by="both")
    if item.status in ("met", "unmet"):  # they disagree: ask the user rather than pick a side
        return dataclasses.replace(item, status="unknown", user_words=None, judged_by="both")
    return item


def _normalised(text: str) -> tuple[str, list[int]]:
    """``text`` in Simplified Chinese, lower case, without spaces and punctuation, and each kept character's
    index in ``text`` (:func:`~assistant.lang.to_simplified` keeps the length)."""
    simple = to_simplified(text)
    chars: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(simple):
        if ch.isspace() or unicodedata.category(ch)[0] in "PSZ":
            continue
        low = ch.lower()
        chars.append(low if len(low) == 1 else ch)
        where.append(i)
    return "".join(chars), where
