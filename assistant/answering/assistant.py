"""The answering core: ``Assistant.answer()`` / ``Assistant.stream()``. Protocols in, :class:`Answer` out.

Every question goes the same way: guard (prompt injection) → resolve a follow-up from the history →
normalise once (:class:`~assistant.answering.query.Query`) → retrieve → judge the evidence → answer,
extractively (quoted sentences, the offline default) or with the configured chat model, or decline. The
chat model failing in any way (unreachable, timeout, error, broken stream) yields the quoted answer with a
notice. Each step is its own object; this class only orchestrates them and keeps no per-answer state.

>>> # assistant = build_assistant(Settings.from_env())      # see assistant.wiring
>>> # answer = assistant.answer("河套合作区总面积有多大？")
>>> # answer.text, [c.quote for c in answer.citations], answer.usage
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

from assistant.answering.answerability import AnswerabilityModel
from assistant.answering.audiences import Audiences
from assistant.answering.budget import Deadline
from assistant.answering.citations import make_citation
from assistant.answering.decline import Decliner
from assistant.answering.eligibility.checklist import EligibilityChecker
from assistant.answering.eligibility.cues import Cues
from assistant.answering.eligibility.judge import ConditionJudge
from assistant.answering.evidence import Evidence, EvidenceJudge, speaks_to
from assistant.answering.extractive import ExtractiveAnswerer, Quote
from assistant.answering.followups import FollowUps
from assistant.answering.generative import GenerativeAnswerer
from assistant.answering.guard import is_injection, without_instructions
from assistant.answering.lifecycle import mark_lifecycle
from assistant.answering.llm import ChatModel
from assistant.answering.prompts import Prompts
from assistant.answering.query import Query, QueryParser, expand_query
from assistant.answering.retrieval import Filters, HybridRetriever, SearchResult
from assistant.answering.topics import Topics
from assistant.answering.typos import Homophones
from assistant.answering.unread import UnreadDetails
from assistant.answering.vocabulary import Colloquial
from assistant.answering.with_model import ModelAnswering, emit
from assistant.data import Answer, Chunk, Message, Sources, StreamEvent
from assistant.errors import InputError
from assistant.knowledge.embedding import CachedEmbedder
from assistant.knowledge.lexical import is_dictionary_word
from assistant.knowledge.reader import IndexReader
from assistant.lang import LANGS, Lang, detect_lang
from assistant.messages import text as message

log = logging.getLogger(__name__)


class Assistant:
    """Answers questions about the park from the retrieved sources, with verified citations."""

    def __init__(self, *, retriever: HybridRetriever, chat_model: ChatModel | None, prompts: Prompts,
                 count_tokens: Callable[[str], int], top_k: int = 6, context_tokens: int = 2500,
                 llm_context: str = "window", max_tokens: int = 700, max_question_chars: int = 2000,
                 colloquial: Colloquial | None = None, answerability: AnswerabilityModel | None = None,
                 request_budget_s: float = 60.0, eligibility: Cues | None = None, lenient_gate: bool = True,
                 judge_checklist: bool = True, prime_model: bool = False, topics: Topics | None = None,
                 unread: UnreadDetails | None = None, elsewhere: Mapping[str, Sequence[str]] | None = None,
                 audiences: Audiences | None = None) -> None:
        self.retriever = retriever
        self.prime_model = prime_model  # warm_up has the chat model read the fixed prompt start (a local server)
        self.top_k = top_k
        self.max_question_chars = max_question_chars
        self.request_budget_s = request_budget_s
        self.lenient_gate = lenient_gate  # with a chat model: decline before it only what is clearly off-topic
        self.reader = IndexReader(retriever.index)
        self.homophones = Homophones(self.reader.vocabulary, is_dictionary_word)
        self.parser = QueryParser(retriever.glossary, self.reader, colloquial, self.homophones.correct)
        self.judge = EvidenceJudge(self.reader, answerability, unread=unread, elsewhere=elsewhere, audiences=audiences)
        self.extractive = ExtractiveAnswerer(self.reader, count_tokens, retriever.glossary.english)
        self.topics = topics or Topics()
        self.decliner = Decliner(self.reader, prompts, self.topics)
        embedder, glossary = retriever.embedder, retriever.glossary
        # Conditions recur across questions about a policy: their vectors are kept (the user's words are new).
        # With a chat model, it also judges each condition against the user's words (LLM mode).
        judge = (ConditionJudge(chat_model, prompts, eligibility)
                 if chat_model is not None and eligibility is not None and judge_checklist else None)
        self.eligibility = (EligibilityChecker(self.reader, CachedEmbedder(embedder), eligibility,
                                               expand=lambda text: expand_query(text, glossary)[1], judge=judge)
                            if eligibility is not None else None)
        self.generative = (GenerativeAnswerer(chat_model, prompts, count_tokens, context_tokens=context_tokens,
                                              max_tokens=max_tokens, context=llm_context,
                                              embed=lambda texts: embedder.embed(texts, "query"),
                                              expand=lambda text: expand_query(text, glossary)[1],
                                              names=glossary.names_in, english=glossary.english)
                           if chat_model is not None else None)
        self.with_model = (ModelAnswering(self.generative, self.extractive, self.decliner)
                           if self.generative is not None else None)
        self.followups = FollowUps(self._previous_items, self.generative)

    # -- public surface ---------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        return "llm" if self.generative is not None else "extractive"

    @property
    def model_name(self) -> str | None:
        return self.generative.name if self.generative is not None else None

    def info(self) -> dict[str, object]:
        """Mode, model, index size and readiness (for /readyz and the UI)."""
        return {"mode": self.mode, "model": self.model_name, "chunks": len(self.reader),
                "build": self.reader.build_id, "ready": True}

    def warm_up(self, wait: bool = False) -> None:
        """Load what the first question would otherwise wait for: the embedding model and the channel line now;
        the vectors of the policies' conditions (for eligibility checklists, a few seconds) in the background,
        or before returning with ``wait`` (benchmarks and the evaluator measure warm answers). With
        ``prime_model`` the chat model reads the fixed start of the answer prompt now, into its server's prompt
        cache, so the first question reads only its passages and itself."""
        self.retriever.embedder.embed(["河套"], "query")
        if self.prime_model and self.generative is not None:
            self.generative.prime(timeout_s=self.request_budget_s)
        self.decliner.official_channel()
        self.homophones.prepare()  # the sound table (0.16 s on the shipped index), not on a first question
        if self.eligibility is not None:
            prepare = threading.Thread(target=self._prepare_checklists, name="eligibility-warm-up", daemon=True)
            prepare.start()
            if wait:
                prepare.join()

    def _prepare_checklists(self) -> None:
        assert self.eligibility is not None
        t0 = time.perf_counter()
        try:
            n = self.eligibility.prepare()
        except Exception:  # a warm-up failing costs speed only: checklists embed what they need then
            log.exception("eligibility warm-up failed")
            return
        log.info("eligibility: %d condition texts embedded in %.1f s", n, time.perf_counter() - t0)

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self.reader.chunk(chunk_id)

    def answer(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None,
               filters: Filters | None = None) -> Answer:
        """Answer ``question`` (the last of a conversation whose earlier turns are ``history``)."""
        *_, final = self.stream(question, history, lang=lang, filters=filters)  # stream() ends with the Answer
        assert isinstance(final, Answer)
        return final

    def stream(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None,
               filters: Filters | None = None) -> Iterator[StreamEvent]:
        """Yield the retrieved :class:`Sources`, text deltas, then the final :class:`Answer` (whose text is
        authoritative: a fallback replaces what was streamed). The Answer carries its own usage and timings,
        and for an eligibility question its checklist and verdict.

        One time budget (``request_budget_s``) covers the whole request: condensing a follow-up, waiting for
        a model slot, generating and the model's judgement of an eligibility checklist all spend from it."""
        deadline = Deadline(self.request_budget_s)
        events = self._stream(question, history, deadline, lang=lang, filters=filters)
        yield from (self.eligibility.wrap(events, question, deadline, history) if self.eligibility is not None
                    else events)

    def _stream(self, question: str, history: Sequence[Message], deadline: Deadline, *, lang: str | None = None,
                filters: Filters | None = None) -> Iterator[StreamEvent]:
        t0 = time.perf_counter()
        question = (question or "").strip()
        if not question:
            raise InputError("the question is empty")
        if len(question) > self.max_question_chars:
            raise InputError(f"the question is longer than {self.max_question_chars} characters")
        language: Lang = lang if lang in LANGS else detect_lang(question)
        if is_injection(question):
            answer = self.decliner.decline(question, language, [], reason="injection")
            yield Sources()
            yield from emit(_timed(answer, {}, t0))
            return
        asked = without_instructions(question)
        if asked != question:  # answered without what the question told the assistant to say or leave out
            for event in self._stream(asked, history, deadline, lang=language, filters=filters):
                yield _ignoring(event, language) if isinstance(event, Answer) else event
            return
        overview = self.topics.overview(question, self.reader.chunks)
        if overview:  # one of our own follow-up questions came back: the section it names, quoted
            yield Sources(tuple(make_citation(n, p) for n, p in enumerate(overview, start=1)))
            quotes = [Quote(i, p.chunk.start, p.chunk.end) for i, p in enumerate(overview)]
            yield from emit(_timed(self.extractive.answer(self.parser.parse(question, lang=language), overview,
                                                          quotes), {}, t0))
            return
        standalone = self.followups.standalone(question, history, deadline)
        query, result, evidence = self._search(question, language, standalone, filters)
        joined = self.followups.in_context(question, history) if standalone == question else None
        if not evidence.answerable and joined:  # perhaps a follow-up that did not say it is one
            again, found, judged = self._search(question, language, joined, filters)
            # Taken when the quotes found with the previous question speak to this one's own words too.
            if judged.answerable and speaks_to(query.terms, found.passages, judged):
                query, result, evidence = again, found, judged
        passages = list(result.passages)
        timings = {"retrieve": result.timings_ms.get("total", 0.0), "embed_query": result.timings_ms["embed_query"]}
        if not evidence.answerable:
            gap = (passages[evidence.gap[0]], evidence.gap[1]) if evidence.gap is not None else None
            declined = self.decliner.decline(question, language, passages, reason="no-evidence",
                                             coverage=evidence.coverage, missing=evidence.missing, gap=gap,
                                             places=evidence.places)
            yield Sources()
            yield from emit(_timed(declined, {}, t0, evidence.confidence))
            return
        yield Sources(tuple(make_citation(n, p) for n, p in enumerate(passages, start=1)))
        events = (self.with_model.stream(query, passages, evidence, deadline) if self.with_model is not None
                  else emit(self.extractive.answer(query, passages, evidence.quotes)))
        for event in events:
            yield _timed(event, timings, t0, evidence.confidence) if isinstance(event, Answer) else event

    def _search(self, question: str, language: Lang, standalone: str, filters: Filters | None
                ) -> tuple[Query, SearchResult, Evidence]:
        """Parse, retrieve and judge ``question`` in its ``standalone`` form."""
        query = self.parser.parse(question, lang=language, standalone=standalone)
        result = self.retriever.search(query, self.top_k, filters)
        lenient = self.generative is not None and self.lenient_gate
        return query, result, self.judge.assess(query, list(result.passages), result.vectors, lenient=lenient)

    def _previous_items(self, previous_question: str) -> list[str]:
        """The quoted lines of the extractive answer to an earlier question (to resolve "the second one")."""
        query = self.parser.parse(previous_question)
        result = self.retriever.search(query, self.top_k)
        passages = list(result.passages)
        return self.extractive.quoted_lines(passages, self.judge.assess(query, passages, result.vectors).quotes)


def _timed(answer: Answer, timings: dict[str, float], t0: float, confidence: float | None = None) -> Answer:
    answer = mark_lifecycle(answer)  # every final answer passes here: cited expired/superseded policies are named
    total = (time.perf_counter() - t0) * 1000
    if answer.usage.queue_s:  # the wait for a model slot, within the total
        timings = {**timings, "queue_wait": answer.usage.queue_s * 1000}
    if answer.usage.prompt_s or answer.usage.generate_s:  # the model server's own time: reading, writing
        timings = {**timings, "model_prompt": answer.usage.prompt_s * 1000,
                   "model_generate": answer.usage.generate_s * 1000}
    return dataclasses.replace(answer, timings_ms={**timings, "total": total}, confidence=confidence)


def _ignoring(answer: Answer, lang: Lang) -> Answer:
    notice = message("note.instructions", lang)
    return dataclasses.replace(answer, notice=f"{answer.notice} {notice}" if answer.notice else notice,
                               meta={**answer.meta, "instructions_ignored": True})
