"""The web layer's own JSON types: requests, responses, SSE events and the error body.

Internal dataclasses are never serialised directly: :class:`CitationOut` is built from
:func:`assistant.data.citation_to_dict`, the one citation serializer. pydantic refuses lone surrogates in a
``str`` field (422); text that arrives in looser shapes (OpenAI content parts) is checked by
:meth:`assistant.limits.Limits.check`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from assistant.answering.eligibility.render import with_fact
from assistant.data import Answer, ChecklistItem, Citation, Filters, citation_to_dict
from assistant.knowledge.lifecycle import wanted_scopes, wanted_statuses
from assistant.lang import Lang
from assistant.limits import Limits
from assistant.messages import text as message
from assistant.web.labels import citation_label

_LIMITS = Limits()  # the defaults size the schema fields; the configured numbers are applied by Limits.check




class ChatTurn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class FiltersIn(BaseModel):
    """Answer only from some of the sources. Each list empty = no restriction."""

    statuses: list[str] = Field(default_factory=list, max_length=10, description=(
        "Lifecycle statuses today: in_force (also keeps expiring), expiring, expired, superseded, upcoming, draft, "
        "undated."))
    scopes: list[str] = Field(default_factory=list, max_length=3,
                              description="深圳园区, 香港园区 or both (a park also keeps 'both').")
    sources: list[str] = Field(default_factory=list, max_length=50, description="Document file names.")
    kinds: list[str] = Field(default_factory=list, max_length=10, description="Document kinds (front matter).")

    @field_validator("statuses")
    @classmethod
    def _known_statuses(cls, v: list[str]) -> list[str]:
        wanted_statuses(v)  # ValueError naming the known ones → 422
        return v

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, v: list[str]) -> list[str]:
        wanted_scopes(v)
        return v

    def to_filters(self) -> Filters:
        return Filters(sources=tuple(self.sources), kinds=tuple(self.kinds), statuses=tuple(self.statuses),
                       scopes=tuple(self.scopes))


class AskRequest(BaseModel):
    question: str = Field(min_length=1, description="The question, in Simplified/Traditional Chinese or English.")
    history: list[ChatTurn] = Field(default_factory=list, description="Earlier turns, oldest first.")
    lang: Lang | None = Field(None, description="Answer language; detected from the question when absent.")
    filters: FiltersIn | None = Field(None, description="Answer only from sources with this status, scope, …")


class CitationOut(BaseModel):
    n: int = Field(description="The marker [n] in the answer text.")
    id: str = Field(description="Chunk id; GET /api/v1/sources/{id} returns the whole passage.")
    source: str
    title: str
    doc_no: str | None = None
    date: str | None = None
    issuer: str | None = None
    url: str | None = None
    section: str
    quote: str = Field(description="The exact source text of the cited sentence(s).")
    start: int = Field(description="Offset of the quote in the document body.")
    end: int
    verified: bool = Field(description="True when the quote was found verbatim in the source.")
    label: str = Field("", description="A readable name for the passage: the policy and where in it "
                       "(e.g. 'P09 财税〔2024〕2号 · 二、税收'), as the web chat and the widget show it.")
    status: str | None = Field(None, description="The cited policy's lifecycle status today: in_force, expiring "
                               "(within 90 days), expired, superseded, upcoming, draft or undated.")
    effective_from: str | None = None
    expires: str | None = None
    superseded_by: str | None = None
    scope: str | None = Field(None, description="深圳园区, 香港园区 or both.")

    @classmethod
    def of(cls, c: Citation) -> CitationOut:
        return cls(**citation_to_dict(c), label=citation_label(c))


class UsageOut(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def of(cls, a: Answer) -> UsageOut:
        u = a.usage
        return cls(prompt_tokens=u.prompt_tokens, completion_tokens=u.completion_tokens, total_tokens=u.total_tokens)


class DoneEvent(BaseModel):
    """Last SSE event; ``answer`` is the final text (it may differ from the concatenated deltas)."""

    answer: str = Field(description="Answer text with [n] citation markers.")
    answerable: bool
    mode: str
    model: str | None
    lang: str
    notice: str | None
    confidence: float | None = Field(None, description="Estimated probability that the sources answer the "
                                     "question; null when it was not judged (e.g. a refused instruction).")
    suggestions: list[str] = Field(default_factory=list, description="Questions the sources do answer, offered "
                                   "with a decline.")
    timings_ms: dict[str, float]
    usage: UsageOut

    @classmethod
    def of(cls, a: Answer) -> DoneEvent:
        return cls(answer=a.text, answerable=a.answerable, mode=a.mode, model=a.model, lang=a.lang, notice=a.notice,
                   confidence=a.confidence, suggestions=list(a.suggestions), timings_ms=dict(a.timings_ms),
                   usage=UsageOut.of(a))


class ChecklistItemOut(BaseModel):
    """One condition, quoted from the sources, with its status against the user's words."""

    condition: str
    status: str = Field(description="met | unmet | unknown | missing (the sources do not give the rest)")
    kind: str = Field(description="require | exclude | any | limit (a rule binding only whom it names) | missing")
    user_words: str | None = Field(description="The user's words that decided the status.")
    judged_by: str = Field(default="terms", description="Who set the status: terms (the term and meaning match), "
                           "model (the chat model, from the user's quoted words) or both (agreeing; when they "
                           "disagree the status is unknown).")
    citation: CitationOut | None
    status_label: str = Field(description="The status in the answer's language.")
    ask_yes: str | None = Field(default=None, description="For an `unknown` condition: the question asked again "
                                "with this condition stated as met (what a client sends when the user ticks 是).")
    ask_no: str | None = Field(default=None, description="For an `unknown` condition: the question asked again "
                               "with this condition stated as not met (ticked 否).")


def _asks(a: Answer, item: ChecklistItem) -> dict[str, str]:
    if item.status != "unknown":
        return {}
    return {"ask_yes": with_fact(a.question, item, True, a.lang), "ask_no": with_fact(a.question, item, False, a.lang)}


class ChecklistOut(BaseModel):
    """An eligibility question's checklist (the ``checklist`` SSE event; ``checklist`` in ``/api/v1/ask``)."""

    verdict: str = Field(description="likely | unlikely | need_more_info | cannot_tell")
    policy: str | None
    complete: bool = Field(description="False when the sources say the rest of the conditions is missing.")
    items: list[ChecklistItemOut]
    office: CitationOut | None = Field(description="The competent office, quoted from the sources.")
    benefit: CitationOut | None = Field(None, description="What the policy gives (its 优惠内容 line), quoted from "
                                        "the sources.")
    note: str | None = Field(description="Official texts prevail.")
    labels: dict[str, str] = Field(description="Strings a client shows in the answer's language: title, verdict, "
                                   "office, benefit, yes, no, fact_yes and fact_no (the words a ticked box adds to the "
                                   "question when it is asked again).")

    @classmethod
    def of(cls, a: Answer) -> ChecklistOut | None:
        if a.verdict is None:
            return None
        office, benefit = a.meta.get("office"), a.meta.get("benefit")
        return cls(verdict=a.verdict, policy=a.meta.get("policy"), complete=bool(a.meta.get("conditions_complete")),
                   items=[ChecklistItemOut(condition=i.condition, status=i.status, kind=i.kind,
                                           user_words=i.user_words, judged_by=i.judged_by,
                                           citation=CitationOut.of(i.citation) if i.citation else None,
                                           status_label=message(f"eligibility.status.{i.status}", a.lang),
                                           **_asks(a, i))
                          for i in a.checklist],
                   office=CitationOut.of(office) if isinstance(office, Citation) else None,
                   benefit=CitationOut.of(benefit) if isinstance(benefit, Citation) else None,
                   note=a.meta.get("prevail"),
                   labels={"title": message("eligibility.title", a.lang),
                           "verdict": message(f"eligibility.verdict.{a.verdict}", a.lang),
                           **{k.replace(".", "_"): message(f"eligibility.{k}", a.lang)
                              for k in ("office", "benefit", "yes", "no", "fact.yes", "fact.no")}})


class AskResponse(DoneEvent):
    """The answer with its citations (``POST /api/v1/ask``), and for eligibility questions its checklist."""

    citations: list[CitationOut]
    checklist: ChecklistOut | None = None

    @classmethod
    def of(cls, a: Answer) -> AskResponse:
        return cls(**DoneEvent.of(a).model_dump(), citations=[CitationOut.of(c) for c in a.citations],
                   checklist=ChecklistOut.of(a))


class FeedbackRequest(BaseModel):
    question: str = Field(min_length=1, max_length=_LIMITS.max_message_chars)
    answer: str = Field(max_length=20_000)
    citations: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    rating: Literal["up", "down"]
    reason: str | None = Field(None, max_length=1000)
    lang: Lang | None = None
    mode: str | None = Field(None, max_length=20, description="The answer's mode, from the `done` event.")
    confidence: float | None = Field(None, ge=0, le=1, description="The answer's confidence, from the `done` event.")


class FeedbackResponse(BaseModel):
    id: int


class SourceResponse(BaseModel):
    id: str
    source: str
    title: str
    section: str
    section_path: list[str]
    text: str
    start: int
    end: int
    meta: dict[str, Any]


class ErrorBody(BaseModel):
    message: str
    type: str
    code: str


class ErrorResponse(BaseModel):
    error: ErrorBody


#: The error statuses an assistant route may answer, for the OpenAPI description.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {s: {"model": ErrorResponse} for s in (403, 413, 422, 429, 500, 503)}
