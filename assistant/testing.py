"""Fakes that implement the package's protocols, for fast unit tests.

They ship with the package so that users testing their own integrations can use them too. Every real
component also has a test against the real thing; a fake is never the only test of a component.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from assistant.data import (
    Answer,
    Chunk,
    Citation,
    Delta,
    EmbedKind,
    Filters,
    Message,
    Passage,
    Sources,
    StreamEvent,
    Usage,
)
from assistant.errors import LLMError


class FakeEmbedder:
    """Deterministic bag-of-characters embedder: texts sharing characters are close. No model needed."""

    name = "fake"
    dim = 64

    def __init__(self) -> None:
        self.calls: list[tuple[EmbedKind, int]] = []

    def embed(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        self.calls.append((kind, len(texts)))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for ch in text:
                h = int(hashlib.md5(ch.encode("utf-8")).hexdigest()[:8], 16)
                out[i, h % self.dim] += 1.0
            norm = float(np.linalg.norm(out[i])) or 1.0
            out[i] /= norm
        return out

    @property
    def embedded_count(self) -> int:
        return sum(n for _, n in self.calls)


class FakeChatModel:
    """A scripted chat model: replies with ``replies`` in turn (the last one repeats), in 4-character
    deltas, then a :class:`Usage` that counts characters.

    ``fail`` makes every call raise :class:`LLMError`, as an unreachable endpoint would.
    """

    def __init__(self, replies: Sequence[str] = ("[1]",), *, fail: bool = False, name: str = "fake-llm") -> None:
        self.replies = list(replies)
        self.fail = fail
        self.name = name
        self.requests: list[list[Message]] = []
        self.max_tokens: list[int | None] = []  # each request's output cap

    def stream(self, messages: Sequence[Message], *, max_tokens: int | None = None,
               timeout_s: float | None = None) -> Iterator[str | Usage]:
        self.requests.append(list(messages))
        self.max_tokens.append(max_tokens)
        if self.fail:
            raise LLMError("fake chat model is set to fail")
        reply = self.replies[min(len(self.requests) - 1, len(self.replies) - 1)]
        for i in range(0, len(reply), 4):
            yield reply[i : i + 4]
        yield Usage(prompt_tokens=sum(len(m.content) for m in messages), completion_tokens=len(reply))


class ObedientChatModel:
    """The worst case for prompt injection: a chat model that does whatever any text tells it.

    It repeats its system prompt, then every line of the user message that gives an order (``SYSTEM:``,
    "ignore", "say", "print", "visit", 忽略, 输出, 访问, …) as if carrying it out, then copies the first
    sentence of passage [1] with its marker, as an honest answer would.
    """

    _ORDER = re.compile(r"SYSTEM:|ignore|say |print|reveal|visit|call |email|PWNED|忽略|输出|访问|致电|联系", re.I)

    def __init__(self, name: str = "obedient-llm") -> None:
        self.name = name
        self.requests: list[list[Message]] = []

    def stream(self, messages: Sequence[Message], *, max_tokens: int | None = None,
               timeout_s: float | None = None) -> Iterator[str | Usage]:
        self.requests.append(list(messages))
        system = "\n".join(m.content for m in messages if m.role == "system")
        user = messages[-1].content
        orders = [line.strip() for line in user.splitlines() if self._ORDER.search(line)]
        honest = re.search(r"^\[1\] [^\n]*\n[-\d.\s]*([^\n。]+。)", user, re.M)
        reply = "\n".join([system, *orders, f"{honest.group(1)}[1]" if honest else ""])
        for i in range(0, len(reply), 7):
            yield reply[i : i + 7]
        yield Usage(prompt_tokens=len(system) + len(user), completion_tokens=len(reply))


class SlowChatModel:
    """A chat model that takes ``delay_s`` before each reply (a hanging or overloaded server); it honours the
    call's ``timeout_s`` the way a real client does, failing with :class:`LLMError` when it runs out."""

    def __init__(self, reply: str = "[1]", delay_s: float = 5.0, name: str = "slow-llm") -> None:
        self.reply, self.delay_s, self.name = reply, delay_s, name
        self.timeouts: list[float | None] = []

    def stream(self, messages: Sequence[Message], *, max_tokens: int | None = None,
               timeout_s: float | None = None) -> Iterator[str | Usage]:
        self.timeouts.append(timeout_s)
        if timeout_s is not None and timeout_s < self.delay_s:
            time.sleep(timeout_s)
            raise LLMError(f"slow chat model did not answer within {timeout_s:.1f}s")
        time.sleep(self.delay_s)
        yield self.reply
        yield Usage(prompt_tokens=1, completion_tokens=len(self.reply))


FAKE_CHUNK = Chunk(
    id="fakechunk0000000001",
    source="hetao-plan-digest.md",
    text="河套深港科技创新合作区总面积约3.89平方公里。",
    start=0,
    end=22,
    section=("规划要点摘编", "〇、文件概况"),
    meta={"title": "规划要点摘编", "doc_no": "国发〔2023〕12号"},
)


#: The follow-up questions FakeAssistant offers with a decline.
FAKE_SUGGESTIONS = ("河套合作区总面积有多大？", "深圳园区由哪两个片区组成？")


class FakeAssistant:
    """Answers every question with one canned cited sentence; declines questions containing "诗" (offering
    :data:`FAKE_SUGGESTIONS` as follow-ups).

    Implements the public surface of :class:`assistant.answering.assistant.Assistant` that the outer adapters use.
    """

    mode = "extractive"
    model_name: str | None = None

    def __init__(self, *, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.questions: list[str] = []
        self.filters: list[Filters | None] = []  # the filters each question was asked with

    def _answer(self, question: str, history: Sequence[Message]) -> Answer:
        self.questions.append(question)
        if "诗" in question:
            return Answer(question=question, text="抱歉，资料中没有这方面的内容。", answerable=False, mode="decline",
                          suggestions=FAKE_SUGGESTIONS)
        c = FAKE_CHUNK
        citation = Citation(n=1, chunk_id=c.id, source=c.source, title=c.title, section=c.section_path,
                            quote=c.text, start=c.start, end=c.end, passage_text=c.text,
                            doc_no=str(c.meta["doc_no"]))
        return Answer(question=question, text=f"摘录：{c.text}[1]", citations=(citation,),
                      passages=(Passage(chunk=c, score=1.0),), mode="extractive")

    def answer(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None,
               filters: Filters | None = None) -> Answer:
        self.filters.append(filters)
        if self.delay_s:
            time.sleep(self.delay_s)
        return self._answer(question, history)

    def stream(self, question: str, history: Sequence[Message] = (), *,
               lang: str | None = None, filters: Filters | None = None) -> Iterator[StreamEvent]:
        self.filters.append(filters)
        answer = self._answer(question, history)
        yield Sources(answer.citations)
        for i in range(0, len(answer.text), 3):
            if self.delay_s:
                time.sleep(self.delay_s / 10)
            yield Delta(answer.text[i : i + 3])
        yield answer

    def chunk(self, chunk_id: str) -> Chunk | None:
        return FAKE_CHUNK if chunk_id == FAKE_CHUNK.id else None

    def info(self) -> dict[str, object]:
        return {"mode": self.mode, "model": self.model_name, "chunks": 1, "ready": True}


class InMemoryCollection:
    """The part of a chroma collection :class:`~assistant.knowledge.store.ChromaStore` uses, in memory:
    cosine distances by brute force, ``where`` with ``$eq``/``$ne``/``$in``/``$nin``/``$and``/``$or``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._rows: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}

    def upsert(self, *, ids: Sequence[str], embeddings: Any, metadatas: Sequence[Mapping[str, Any]]) -> None:
        if not (len(ids) == len(embeddings) == len(metadatas)):
            raise ValueError("ids, embeddings and metadatas differ in length")
        for i, vector, meta in zip(ids, embeddings, metadatas, strict=True):
            self._rows[i] = (np.asarray(vector, dtype=np.float32), dict(meta))

    def count(self) -> int:
        return len(self._rows)

    def get(self, *, ids: Sequence[str], include: Sequence[str] = ()) -> dict[str, Any]:
        found = [i for i in ids if i in self._rows]
        return {"ids": found, "embeddings": [self._rows[i][0] for i in found]}

    def query(self, *, query_embeddings: Sequence[Any], n_results: int, where: Mapping[str, Any] | None = None,
              include: Sequence[str] = ()) -> dict[str, Any]:
        (q,) = query_embeddings
        q = np.asarray(q, dtype=np.float32)
        scored = []
        for i, (v, meta) in self._rows.items():
            if where is None or _matches(meta, where):
                cos = float(v @ q / ((np.linalg.norm(v) * np.linalg.norm(q)) or 1.0))
                scored.append((1.0 - cos, i))
        scored.sort()
        top = scored[:n_results]
        return {"ids": [[i for _, i in top]], "distances": [[d for d, _ in top]]}


def _matches(meta: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    if len(where) != 1:
        return all(_matches(meta, {k: v}) for k, v in where.items())
    ((key, cond),) = where.items()
    if key == "$and":
        return all(_matches(meta, c) for c in cond)
    if key == "$or":
        return any(_matches(meta, c) for c in cond)
    if not isinstance(cond, Mapping):
        cond = {"$eq": cond}
    ((op, value),) = cond.items()
    have = meta.get(key)
    if op == "$eq":
        return bool(have == value)
    if op == "$ne":
        return bool(have != value)
    if op == "$in":
        return have in value
    if op == "$nin":
        return have not in value
    raise ValueError(f"operator {op!r} is not supported by the in-memory store")


_COLLECTION_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]")  # chroma's rule


class InMemoryChromaClient:
    """A chroma client in memory, for fast tests without chromadb: hand it to the wiring as ``client=``.

    The same contract tests run against it, the embedded PersistentClient and a real chroma server.
    """

    def __init__(self) -> None:
        self._collections: dict[str, InMemoryCollection] = {}

    def create_collection(self, name: str, **_options: Any) -> InMemoryCollection:
        if not _COLLECTION_NAME.fullmatch(name):
            raise ValueError(f"invalid collection name {name!r}: 3-512 of [a-zA-Z0-9._-], alphanumeric at both ends")
        if name in self._collections:
            raise ValueError(f"collection {name!r} already exists")
        self._collections[name] = InMemoryCollection(name)
        return self._collections[name]

    def get_collection(self, name: str, **_options: Any) -> InMemoryCollection:
        if name not in self._collections:
            raise ValueError(f"collection {name!r} does not exist")
        return self._collections[name]

    def list_collections(self) -> list[InMemoryCollection]:
        return list(self._collections.values())

    def delete_collection(self, name: str) -> None:
        if name not in self._collections:
            raise ValueError(f"collection {name!r} does not exist")
        del self._collections[name]
