"""The eligibility checklist: each condition of the policy, quoted and cited, against the user's words.

:class:`EligibilityChecker` is the one step the assistant adds for eligibility questions: detect (cue file),
find the policy's conditions in the index's structure (:mod:`.conditions`), and give each a status:

* the user's clause closest in meaning (e5 cosine, the retriever's own embedder) addresses the condition
  when the cosine reaches ``threshold`` or the two share a term;
* the clause then meets it, unless one of the two is negated and the other is not (还没 / 未 / hasn't), or the
  clause names another member of a ``contrast`` group (内地 against 香港); for an exclusion it is the reverse;
  a ``limit`` (a rule binding whom it names) is met when the user is not one of them;
* an English clause shares a term with a condition through the glossary (pathogen → 病原体);
* a requirement is decided by the closest clause that addresses it, an exclusion by any such clause saying it
  applies;
* a rule allowing only one of two benefits (``exclusive`` cue: 二选一) is unmet when the user asks for both
  (``both`` cue: 两样一齐攞), unless it is a ``limit`` that does not bind them.

With a chat model (LLM mode) the model then judges each listed condition from the user's quoted words, and
the statuses are combined (:mod:`.judge`); the verdict is computed from the combined statuses.

Verdict: one unmet → ``unlikely``; else the list incomplete → ``cannot_tell``; else unknowns →
``need_more_info``; else ``likely``. Never ``likely`` with an incomplete list.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from assistant.answering.budget import Deadline
from assistant.answering.citations import make_citation
from assistant.answering.eligibility.conditions import (
    Condition,
    ConditionList,
    Line,
    find_conditions,
    normalise,
    policy_conditions,
    policy_keys,
    section_lines,
)
from assistant.answering.eligibility.cues import Cues
from assistant.answering.eligibility.detect import detect
from assistant.answering.eligibility.judge import ConditionJudge
from assistant.answering.eligibility.render import render_checklist
from assistant.data import (
    Answer,
    ChecklistItem,
    Citation,
    Delta,
    Message,
    Passage,
    Status,
    StreamEvent,
    Usage,
    Verdict,
)
from assistant.knowledge.embedding import Embedder
from assistant.knowledge.reader import IndexReader
from assistant.lang import to_simplified
from assistant.messages import text as message

_CLAUSE = re.compile(r"[，,。；;？?！!：:（）()]+|\.(?:\s+|$)|\s+(?:and|but|so|which|who|whose)\s+|\s{2,}"
                     r"|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_HAN_PAIR = re.compile(r"(?=([\u4e00-\u9fff]{2}))")
#: Cosine between a user's clause and a condition from which the clause addresses the condition
#: (chosen on the tune split's eligibility questions; see scripts/eligibility_detect.py).
THRESHOLD = 0.90


class EligibilityChecker:
    """Adds ``checklist`` and ``verdict`` to the answer of an eligibility question (see the module doc)."""

    def __init__(self, reader: IndexReader, embedder: Embedder, cues: Cues, threshold: float = THRESHOLD,
                 expand: Callable[[str], list[str]] | None = None, judge: ConditionJudge | None = None) -> None:
        self.reader = reader
        self.embedder = embedder
        self.cues = cues
        self.threshold = threshold
        #: English text → the glossary's Chinese terms for it: an English clause shares terms with a condition.
        self.expand = expand or (lambda text: [])
        self.judge = judge  # the chat model's judgement of each condition (LLM mode), or None

    def wrap(self, events: Iterable[StreamEvent], question: str, deadline: Deadline | None = None,
             history: Sequence[Message] = ()) -> Iterator[StreamEvent]:
        """The assistant's events with the checklist attached to the final answer. For an eligibility
        question the text is held back until the end: a decline may become the checklist's own answer.
        ``deadline`` is the request's (the model's judgement spends from it); ``history`` the conversation."""
        if not detect(question, self.cues).eligible_question:
            yield from events
            return
        held: list[Delta] = []
        for event in events:
            if isinstance(event, Delta):
                held.append(event)
                continue
            if not isinstance(event, Answer):  # the retrieved sources go out at once
                yield event
                continue
            t0 = time.perf_counter()
            checked = self.attach(event, deadline, [m.content for m in history if m.role == "user"])
            if checked is not event:
                took = (time.perf_counter() - t0) * 1000
                timings = {**checked.timings_ms, "checklist": took}
                if "total" in timings:
                    timings["total"] += took
                checked = dataclasses.replace(checked, timings_ms=timings)
            if checked.text != event.text:
                held = [Delta(line) for line in checked.text.splitlines(keepends=True)]
            yield from held
            yield checked
            return

    def attach(self, answer: Answer, deadline: Deadline | None = None, earlier: Sequence[str] = ()) -> Answer:
        """``answer`` with its checklist when the question is an eligibility question the passages cover.
        With a judge and a ``deadline`` the chat model judges the conditions too; ``earlier`` are the user's
        earlier turns (their words may decide a condition as well as the question's)."""
        declined = answer.mode == "decline"
        # Declined because the rules found are for others than the group asked about (澳门居民, part-time staff):
        # their conditions would read as the asker's.
        if (declined and (answer.meta.get("decline_reason") != "no-evidence"
                          or answer.meta.get("missing_detail") == "group")) or not answer.passages \
                or not detect(answer.question, self.cues).eligible_question:
            return answer
        # The user's facts: the question's clauses, less the one that asks (能用吗 / can we use).
        clauses = self.facts(answer.question)
        if not clauses:
            return answer
        clause_vecs = self._embed(clauses)
        question_vec = self._embed([answer.question])[0]
        # The measure asked about: the one closest to any of the user's clauses, the asking one included (能办那个
        # 人才签注吗 names the measure; the user's situation alone may be closer to another).
        asked_vecs = self._embed(user_clauses(answer.question))
        found = find_conditions(self.reader, answer.passages, self.cues, lambda texts: self._focus(asked_vecs, texts),
                                lambda texts: float((self._embed(texts) @ question_vec).max()))
        if found is None:
            return answer
        # Asked for two benefits together ("两样一齐攞", "both"): a condition allowing only one is not met.
        combined = next((c for c in user_clauses(answer.question)
                         if self.cues.search("both", to_simplified(c).lower())), None)
        items = [self._item(c, clauses, clause_vecs, combined) for c in found.conditions]
        usage, judged_meta = answer.usage, {}
        if self.judge is not None and deadline is not None:
            # How many requirements each condition states (its clauses up to the grant; the fewest of its
            # alternatives): the model may decide only a condition of one (see judge.py).
            parts = [min(len(self._parts(t)) for t in c.alternatives or (c.quote,)) for c in found.conditions]
            judged = self.judge.judge(items, [f for turn in earlier for f in self.facts(turn)] + clauses, deadline,
                                      parts)
            items, judged_meta = list(judged.items), {"checklist_judge": judged.outcome}
            if judged.usage is not None:
                usage = _add(usage, judged.usage)
        if not found.complete:
            items.append(self._missing(found, answer.lang))
        verdict = decide([i.status for i in items], found.complete)
        office = self._office(found)
        meta = {**answer.meta, **judged_meta, "policy": " › ".join(found.policy[1:]) or found.policy[0],
                "conditions_complete": found.complete, "office": office, "benefit": self._benefit(found),
                "prevail": message("eligibility.prevail", answer.lang)}
        items = [dataclasses.replace(i, citation=dataclasses.replace(i.citation, n=n)) if i.citation else i
                 for n, i in enumerate(items, 1)]
        checked = dataclasses.replace(answer, checklist=tuple(items), verdict=verdict, meta=meta, usage=usage)
        if declined:
            # The passages did not answer the question as asked, but they state the policy's conditions:
            # the checklist itself is the (quoted, cited) answer.
            citations = tuple(i.citation for i in items if i.citation is not None)
            checked = dataclasses.replace(checked, text=render_checklist(checked), mode="extractive",
                                          answerable=True, citations=citations)
        return checked

    def facts(self, text: str) -> list[str]:
        """The clauses of what the user said, less the one that asks (能用吗 / can we use)."""
        return [c for c in user_clauses(text) if not self.cues.search("ask", to_simplified(c).lower())]

    # -- statuses ----------------------------------------------------------------------------------------
    def _item(self, condition: Condition, clauses: list[str], clause_vecs: np.ndarray,
              combined: str | None = None) -> ChecklistItem:
        citation = self._cite(condition.quote, condition.start, condition.chunk)
        if combined is not None and self.cues.search("exclusive", to_simplified(condition.quote)) \
                and not (condition.kind == "limit" and self._someone_else(condition.quote, clauses)):
            return ChecklistItem(condition.quote, "unmet", citation, combined, condition.kind)
        if condition.alternatives:  # one alternative met is enough; unmet only when every one is
            results = [self._status(t, "require", clauses, clause_vecs) for t in condition.alternatives]
            best = next((r for r in results if r is not None and r[0] == "met"), None)
            if best is None and results and all(r is not None and r[0] == "unmet" for r in results):
                best = results[0]
        else:
            best = self._status(condition.quote, condition.kind, clauses, clause_vecs)
        if best is None:
            return ChecklistItem(condition.quote, "unknown", citation, None, condition.kind)
        return ChecklistItem(condition.quote, best[0], citation, best[1], condition.kind)

    def _status(self, target: str, kind: str, clauses: list[str],
                clause_vecs: np.ndarray) -> tuple[Status, str] | None:
        """Each of the condition's own clauses (up to the one granting the benefit: 即可 …) is paired with the
        user's clauses: one naming someone else (a contrast: 内地 against 香港居民) settles it, whichever is closest;
        otherwise the closest clause that addresses it, by polarity. The condition is met when every such clause
        is, unmet when one is not, and unknown (None) when one is not addressed."""
        parts = self._parts(target)
        if kind == "limit":  # a rule for whom it names: the user says they are someone else (a contrast)
            other = self._someone_else(target, clauses)
            if other is not None:
                return "met", other
        sims = clause_vecs @ self._embed(parts).T  # user clauses × condition clauses
        results: list[tuple[Status, str] | None] = []
        for c, part in enumerate(parts):
            result: tuple[Status, str] | None = None
            # Saying who they are settles whom a condition names, whichever clause is closest in meaning:
            # "我是内地户口的研究员" against "在深圳园区工作的香港居民", though "在园区上班" is closer.
            other = self._contrasting(part, clauses)
            if other is not None:
                results.append(("met" if kind == "exclude" else "unmet", other))
                continue
            for u in np.argsort(-sims[:, c]):  # no clause contrasts with it: polarity decides
                clause = clauses[int(u)]
                if sims[u, c] < self.threshold and not self._share_term(clause, part):
                    continue
                opposite = self._negated(clause) != self._negated(part)
                holds: Status = "met" if opposite == (kind == "exclude") else "unmet"
                if result is None or holds == "unmet":
                    result = (holds, clause)
                # The closest clause decides a requirement; an exclusion applies when any clause that
                # addresses it says so (the user's "a pathogen" and "whose risk hasn't been characterised"
                # together describe the excluded 风险未知的病原体).
                if kind != "exclude" or holds == "unmet":
                    break
            results.append(result)
        decided = [r for r in results if r is not None]
        if kind == "exclude":  # excluded when one of its clauses holds for the user
            return next((r for r in decided if r[0] == "unmet"), decided[0] if decided else None)
        if any(r[0] == "unmet" for r in decided):
            return next(r for r in decided if r[0] == "unmet")
        return decided[0] if decided and len(decided) == len(results) else None

    def _someone_else(self, target: str, clauses: list[str]) -> str | None:
        """The user's clause saying they are not whom a ``limit`` rule names (a contrast), if any."""
        for part in self._parts(target):
            if not self.cues.search("must", part):
                other = self._contrasting(part, clauses)
                if other is not None:
                    return other
        return None

    def _contrasting(self, part: str, clauses: Sequence[str]) -> str | None:
        """The first of the user's clauses that names someone other than whom ``part`` names (:meth:`_contrast`)."""
        return next((clause for clause in clauses if self._contrast(clause, part)), None)

    def _parts(self, target: str) -> list[str]:
        """A condition's own clauses, up to the one granting the benefit (即可 …): what follows the grant
        describes the benefit, not who gets it."""
        target_s = to_simplified(target)
        parts = user_clauses(target_s) or [target_s]
        then = next((i for i, p in enumerate(parts) if i > 0 and self.cues.search("then", p)), len(parts))
        granted = next((i + 1 for i, p in enumerate(parts) if self.cues.search("grant", p)), len(parts))
        return parts[:min(then, granted)]

    def prepare(self, batch: int = 8) -> int:
        """Embed ahead of the first question what a checklist compares with the user's words — every policy's
        heading, measures, conditions and their clauses — so an eligibility answer embeds only the user's
        clauses (the embedder keeps vectors: :class:`~assistant.knowledge.embedding.CachedEmbedder`).
        Returns how many texts that was."""
        texts: list[str] = []
        for key in policy_keys(self.reader):
            lines = section_lines(self.reader, *key)
            measures: list[str] = []
            lists = [policy_conditions(key, lines, self.cues, _first_noting(measures))]
            lists += [policy_conditions(key, lines, self.cues, _nth(n)) for n in range(1, len(measures))]
            texts += measures
            for found in (f[1] for f in lists if f is not None):
                texts.append(found.policy[-1])
                for c in found.conditions:
                    texts.append(c.quote)
                    for target in c.alternatives or (c.quote,):
                        texts += self._parts(target)
        unique = sorted(dict.fromkeys(texts), key=len)  # similar lengths batched: little padding
        for i in range(0, len(unique), batch):
            self._embed(unique[i : i + batch])
        return len(unique)

    def _negated(self, text: str) -> bool:
        for word in self.cues.findall("exclusion", text):
            text = text.replace(word, "")
        return self.cues.search("negation", to_simplified(text).lower()) is not None

    def _contrast(self, clause: str, target: str) -> bool:
        """Does the user, speaking of themselves (a ``self`` cue), name one member of a contrast group while
        the condition names another? ("我是内地户口的研究员" against "具有香港居民身份")"""
        said_text, wanted_text = to_simplified(clause).lower(), target.lower()
        if not self.cues.search("self", said_text):
            return False
        for group in self.cues.groups("contrast"):  # members are "word/synonym/…"
            said = {m for m in group if any(w in said_text for w in m.split("/"))}
            wanted = {m for m in group if any(w in wanted_text for w in m.split("/"))}
            if said and wanted and not said & wanted:
                return True
        return False

    def _share_term(self, clause: str, target: str) -> bool:
        """A clause and a condition sharing a two-character Chinese word that is not a ``common`` one, or (an
        English clause) a glossary term for one of its phrases."""
        pairs = set(_HAN_PAIR.findall(to_simplified(clause))) | {t for t in self.expand(clause) if len(t) >= 2}
        return any(p in target for p in pairs if not self.cues.fullmatch("common", p))

    # -- helpers -----------------------------------------------------------------------------------------
    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return normalise(np.asarray(self.embedder.embed(list(texts), "query"), dtype=np.float32))

    def _focus(self, clause_vecs: np.ndarray, texts: Sequence[str]) -> int:
        sims = self._embed(texts) @ clause_vecs.T
        return int(np.argmax(sims.max(axis=1)))

    def _cite(self, quote: str, start: int, chunk: object) -> Citation:
        from assistant.data import Chunk

        assert isinstance(chunk, Chunk)
        return make_citation(0, Passage(chunk=chunk, score=0.0), (start, start + len(quote)))

    def _missing(self, found: ConditionList, lang: str) -> ChecklistItem:
        """The row saying the sources stop, citing the source's own 未读到 / 截断 line."""
        line = next((ln for ln in found.lines if self.cues.search("incomplete", ln.text)), None)
        citation = self._cite(line.text, line.start, line.chunk) if line is not None else None
        return ChecklistItem(message("eligibility.missing", lang), "missing", citation, None, "missing")

    def _benefit(self, found: ConditionList) -> Citation | None:
        """The policy's own line saying what it gives (优惠内容：个人所得税税负高出香港税负的部分免征。), whole."""
        line = next((ln for ln, key, _ in _labelled(found) if self.cues.fullmatch("benefit", key.strip())), None)
        if line is None:
            return None
        text = line.text.lstrip("-*• ")
        return self._cite(text, line.start + len(line.text) - len(text), line.chunk)

    def _office(self, found: ConditionList) -> Citation | None:
        """The policy's own line naming who handles it (执行单位 / 受理 before 发文机关)."""
        candidates = [(1 if "发文" in key or "制定" in key or "签署" in key else 0, line, value)
                      for line, key, value in _labelled(found) if self.cues.search("office", key)]
        if not candidates:
            return None
        _, line, value = min(candidates, key=lambda c: c[0])
        start = line.start + len(line.text) - len(value)
        return self._cite(value, start, line.chunk)


def _labelled(found: ConditionList) -> Iterator[tuple[Line, str, str]]:
    """The policy's ``label：value`` lines (a value after the label), with the label and the value."""
    for line in found.lines:
        key, sep, value = line.text.lstrip("-*• ").partition("：")
        if sep and value.strip():
            yield line, key, value


def _first_noting(into: list[str]) -> Callable[[Sequence[str]], int]:
    """A measure chooser that picks the first and notes them all in ``into``."""
    def focus(items: Sequence[str]) -> int:
        into[:] = items
        return 0
    return focus


def _nth(n: int) -> Callable[[Sequence[str]], int]:
    return lambda items: n


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(a.prompt_tokens + b.prompt_tokens, a.completion_tokens + b.completion_tokens, a.queue_s + b.queue_s)


def decide(statuses: Sequence[Status], complete: bool) -> Verdict:
    """The verdict from the items' statuses (see the module docstring)."""
    if "unmet" in statuses:
        return "unlikely"
    if not complete:
        return "cannot_tell"
    if "unknown" in statuses:
        return "need_more_info"
    return "likely"


def user_clauses(question: str) -> list[str]:
    """The question's clauses: the units the user states facts in."""
    return [c.strip() for c in _CLAUSE.split(question) if len(c.strip()) >= 2]

