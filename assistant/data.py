"""The dataclasses that cross module lines. Frozen, typed, with a ``meta`` dict for extras.

Imports nothing from the package: every other module may import this one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant"]
EmbedKind = Literal["query", "passage"]
AnswerMode = Literal["extractive", "llm", "decline"]
#: How an eligibility question comes out: all known conditions met and the list complete (``likely``), one
#: stated unmet (``unlikely``), some not said (``need_more_info``), the sources' list incomplete (``cannot_tell``).
Verdict = Literal["likely", "unlikely", "need_more_info", "cannot_tell"]
#: A condition against the user's words; ``missing`` is the row saying the sources do not give the rest.
Status = Literal["met", "unmet", "unknown", "missing"]
#: Who set a checklist item's status: the term and meaning match, the chat model, or both (agreeing, or
#: disagreeing and then ``unknown``); see :mod:`assistant.answering.eligibility.judge`.
JudgedBy = Literal["terms", "model", "both"]

#: Metadata keys of a document that travel into every chunk and citation.
DOC_META_KEYS = ("title", "kind", "issuer", "doc_no", "date", "status", "park", "url", "about", "period", "note",
                 "effective_from", "expires", "superseded_by", "scope", "collection")

#: Lifecycle fields a citation shows (besides its derived ``status``).
LIFECYCLE_CITATION_KEYS = ("effective_from", "expires", "superseded_by", "scope")


@dataclass(frozen=True)
class Document:
    """One source file, parsed to plain text.

    ``source`` is the path relative to the sources folder (``hetao-plan-digest.md``); ``text`` is the body
    (front matter removed) that chunk offsets point into; ``meta`` holds front-matter fields.
    """

    source: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return str(self.meta.get("title") or self.source)

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Chunk:
    """A contiguous span ``document.text[start:end]`` with its section path.

    ``id`` is a hash of the source and the content, so an unchanged chunk keeps its id (and its embedding)
    across index builds.
    """

    id: str
    source: str
    text: str
    start: int
    end: int
    section: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def make_id(source: str, text: str, section: tuple[str, ...] = ()) -> str:
        key = "\x1f".join([source, " › ".join(section), text])
        return hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]

    @property
    def section_path(self) -> str:
        return " › ".join(self.section)

    @property
    def title(self) -> str:
        return str(self.meta.get("title") or self.source)

    @property
    def group(self) -> str:
        """The publication a chunk belongs to: its ``collection`` (documents split out of one list, e.g. each
        policy of a policy list) or else its own document. Diversity and "each other source" count by it."""
        return str(self.meta.get("collection") or self.source)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its fused score and the per-retriever details."""

    chunk: Chunk
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None
    dense_rank: int | None = None
    lexical_rank: int | None = None

    @property
    def id(self) -> str:
        return self.chunk.id

    @property
    def text(self) -> str:
        return self.chunk.text


@dataclass(frozen=True)
class Citation:
    """One cited passage: ``n`` is the marker ``[n]`` in the answer text.

    ``quote`` is the exact source text of the cited sentence(s) and ``start``/``end`` its offsets in the
    document body, so a UI can show it in context.
    """

    n: int
    chunk_id: str
    source: str
    title: str
    section: str
    quote: str
    start: int
    end: int
    passage_text: str = ""
    doc_no: str | None = None
    date: str | None = None
    issuer: str | None = None
    url: str | None = None
    verified: bool = True
    meta: dict[str, Any] = field(default_factory=dict)


def citation_to_dict(c: Citation) -> dict[str, Any]:
    """A citation as plain JSON: the one serialised shape (API, web chat feedback, evaluation results).

    ``id`` is the chunk id (``GET /api/v1/sources/{id}`` returns the passage); the passage text and the rest of
    ``meta`` stay out, so stored rows stay small. ``status`` is the cited policy's lifecycle status on the day of
    the answer (``in_force``, ``expiring``, ``expired``, ``superseded``, …; see
    ``assistant.knowledge.lifecycle``), with the dates and scope it was derived from.
    """
    return {"n": c.n, "id": c.chunk_id, "source": c.source, "title": c.title, "doc_no": c.doc_no, "date": c.date,
            "issuer": c.issuer, "url": c.url, "section": c.section, "quote": c.quote, "start": c.start,
            "end": c.end, "verified": c.verified, "status": c.meta.get("lifecycle"),
            **{k: c.meta.get(k) for k in LIFECYCLE_CITATION_KEYS}}


@dataclass(frozen=True)
class Filters:
    """Restrict a search to some documents (``source``), kinds, lifecycle statuses or scopes; empty = all.

    ``statuses`` are lifecycle statuses on the day of the search (``in_force`` also keeps ``expiring``), see
    :mod:`assistant.knowledge.lifecycle`; ``scopes`` are 深圳园区 / 香港园区 / both (a park also keeps ``both``).
    """

    sources: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.sources or self.kinds or self.statuses or self.scopes)


@dataclass(frozen=True)
class ChecklistItem:
    """One condition of the policy asked about, quoted exactly (``citation.quote``), with its status against
    the user's words; ``user_words`` are the words that decided it (None when ``unknown``).

    ``kind``: ``require`` (must hold), ``exclude`` (who or what is left out), ``any`` (one of its alternatives),
    ``limit`` (a rule that binds only whom it names: met when the user is not one of them), ``missing`` (the
    sources do not give the rest: ``condition`` is that notice, the citation the source's own 未读到 / 截断 line).
    ``judged_by``: who set the status (:data:`JudgedBy`; ``terms`` in extractive mode).
    """

    condition: str
    status: Status
    citation: Citation | None
    user_words: str | None = None
    kind: str = "require"
    judged_by: JudgedBy = "terms"


def checklist_to_dict(answer: Answer) -> dict[str, Any] | None:
    """An answer's checklist as plain JSON (API, SSE ``checklist`` event, evaluation), or None without one."""
    if answer.verdict is None:
        return None
    office, benefit = answer.meta.get("office"), answer.meta.get("benefit")
    return {"verdict": answer.verdict, "policy": answer.meta.get("policy"),
            "complete": bool(answer.meta.get("conditions_complete")),
            "items": [{"condition": i.condition, "status": i.status, "kind": i.kind, "user_words": i.user_words,
                       "judged_by": i.judged_by, "citation": citation_to_dict(i.citation) if i.citation else None}
                      for i in answer.checklist],
            "office": citation_to_dict(office) if isinstance(office, Citation) else None,
            "benefit": citation_to_dict(benefit) if isinstance(benefit, Citation) else None,
            "note": answer.meta.get("prevail")}


@dataclass(frozen=True)
class Message:
    """One chat turn, in OpenAI's role vocabulary."""

    role: Role
    content: str


@dataclass(frozen=True)
class Usage:
    """Token counts (tiktoken when the backend does not report them)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: Seconds the call waited for a model slot (see :class:`~assistant.answering.budget.ModelGate`).
    queue_s: float = 0.0
    #: Prompt tokens the server took from its cache instead of computing them (a prefix shared with the last
    #: request), and the server's own seconds for reading the prompt and for generating: where a call's time
    #: went (llama.cpp reports them; 0 when the server does not).
    cached_tokens: int = 0
    prompt_s: float = 0.0
    generate_s: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Answer:
    """What the assistant says, and everything needed to check it.

    ``citations`` holds only the passages the text actually cites; ``passages`` all that were retrieved.
    ``checklist`` and ``verdict`` are set for eligibility questions (see :class:`ChecklistItem`).
    ``notice`` is set when the answer was degraded (e.g. the LLM was unreachable and the quoted answer is
    shown instead). ``confidence`` is the estimated probability that the sources answer the question
    (None when it was not judged, e.g. for a prompt injection). ``suggestions`` are follow-up questions
    the sources do answer, offered with a decline.
    """

    question: str
    text: str
    citations: tuple[Citation, ...] = ()
    answerable: bool = True
    mode: AnswerMode = "extractive"
    model: str | None = None
    lang: str = "zh-Hans"
    passages: tuple[Passage, ...] = ()
    notice: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    confidence: float | None = None
    suggestions: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    #: Eligibility questions only: the policy's conditions against the user's words, and the verdict
    #: (``meta`` then holds ``policy``, ``conditions_complete``, ``office`` (a Citation) and ``prevail``).
    checklist: tuple[ChecklistItem, ...] = ()
    verdict: Verdict | None = None


@dataclass(frozen=True)
class Delta:
    """A piece of answer text while streaming; the stream ends with the full :class:`Answer`."""

    text: str


@dataclass(frozen=True)
class Sources:
    """The retrieved passages, sent before the first :class:`Delta` so a client can show them at once.

    ``citations`` are numbered in retrieval order; the final :class:`Answer`'s citations (what the text cites,
    numbered as its markers) replace them. Empty for a declined question.
    """

    citations: tuple[Citation, ...] = ()


#: What :meth:`AssistantLike.stream` yields: one :class:`Sources`, text deltas, then the :class:`Answer`.
StreamEvent = Sources | Delta | Answer


class AssistantLike(Protocol):
    """What every caller (API, web chat, evaluator, CLI) needs of
    :class:`assistant.answering.assistant.Assistant`; :class:`assistant.testing.FakeAssistant` implements it too."""

    def answer(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None,
               filters: Filters | None = None) -> Answer:
        """The whole answer at once, from the passages ``filters`` allows."""
        ...

    def stream(self, question: str, history: Sequence[Message] = (), *,
               lang: str | None = None, filters: Filters | None = None) -> Iterator[StreamEvent]:
        """The retrieved :class:`Sources`, text deltas, then the final :class:`Answer`."""
        ...

    def chunk(self, chunk_id: str) -> Chunk | None:
        """A passage of the serving index by id, or None."""
        ...

    def info(self) -> dict[str, Any]:
        """Mode, model, index size, build id and readiness."""
        ...
