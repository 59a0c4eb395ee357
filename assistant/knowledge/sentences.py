"""Sentence vectors: every sentence (or list line) of every chunk, embedded at build and stored with it.

The extractive answerer chooses sentences by meaning as well as by terms, and answerability looks at how
close the best sentence is to the question; both need a vector per sentence, computed once at build
(``builds/<id>/sentences.npz``) rather than per question. A sentence is embedded with its section heading
(the heading names the topic a bare list line lacks), folded to Simplified, as a ``passage``.
An incremental build copies the rows of unchanged chunks from the previous build.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from assistant.data import Chunk
from assistant.knowledge.chunking import split_sentences
from assistant.knowledge.embedding import Embedder, embed_batched
from assistant.lang import to_simplified

FILE = "sentences.npz"


def sentence_spans(chunk: Chunk) -> list[tuple[int, int]]:
    """The sentence spans of ``chunk`` in document offsets (the units the answerer scores and quotes)."""
    return split_sentences(chunk.text, base=chunk.start)


def embed_text(chunk: Chunk, start: int, end: int) -> str:
    """What one sentence is embedded as: its nearest section heading, then the sentence (Simplified)."""
    heading = chunk.section[-1] if chunk.section else chunk.title
    return to_simplified(f"{heading}\n{chunk.text[start - chunk.start : end - chunk.start]}")


class SentenceVectors:
    """Sentence spans and unit vectors of a build, looked up by chunk id."""

    def __init__(self, ids: np.ndarray, starts: np.ndarray, ends: np.ndarray, vectors: np.ndarray) -> None:
        self.ids, self.starts, self.ends, self.vectors = ids, starts, ends, vectors
        self._rows: dict[str, tuple[int, int]] = {}
        if len(ids):
            change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
            bounds = [0, *change.tolist(), len(ids)]
            self._rows = {str(ids[a]): (a, b) for a, b in itertools.pairwise(bounds)}

    def __len__(self) -> int:
        return len(self.ids)

    def of(self, chunk_id: str) -> tuple[list[tuple[int, int]], np.ndarray]:
        """The spans of a chunk's sentences and their vectors (one row each); empty when unknown."""
        a, b = self._rows.get(chunk_id, (0, 0))
        spans = list(zip(self.starts[a:b].tolist(), self.ends[a:b].tolist(), strict=True))
        return spans, self.vectors[a:b]

    def save(self, directory: Path) -> None:
        np.savez(directory / FILE, ids=self.ids, starts=self.starts, ends=self.ends, vectors=self.vectors)

    @classmethod
    def load(cls, directory: Path) -> SentenceVectors | None:
        """The vectors stored in a build folder, or None when it has none (an older build)."""
        path = directory / FILE
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as data:
            return cls(data["ids"], data["starts"], data["ends"], data["vectors"].astype(np.float32))

    @classmethod
    def build(cls, chunks: Sequence[Chunk], embedder: Embedder, previous: SentenceVectors | None = None,
              progress: Callable[[int, int], None] | None = None) -> SentenceVectors:
        """Embed the sentences of ``chunks``; rows of ``previous`` are reused for chunks it already holds
        with the same spans (an unchanged chunk keeps its id, so its sentences are the same)."""
        ids: list[str] = []
        spans: list[tuple[int, int]] = []
        rows: list[np.ndarray | None] = []
        todo: list[tuple[int, str]] = []
        for c in chunks:
            mine = sentence_spans(c)
            old_spans, old_vectors = previous.of(c.id) if previous is not None else ([], np.zeros((0, 0)))
            # Same id, same text: the same sentences, though earlier edits may have shifted their offsets.
            reuse = len(old_spans) == len(mine) and _relative(old_spans) == _relative(mine)
            for j, (s, e) in enumerate(mine):
                ids.append(c.id)
                spans.append((s, e))
                rows.append(old_vectors[j] if reuse else None)
                if not reuse:
                    todo.append((len(rows) - 1, embed_text(c, s, e)))
        fresh = embed_batched(embedder, [t for _, t in todo], "passage", batch_size=32,
                              progress=(lambda done: progress(done, len(todo))) if progress else None)
        for k, (i, _) in enumerate(todo):
            rows[i] = fresh[k]
        dim = next((len(r) for r in rows if r is not None), 0)
        vectors = np.vstack([r for r in rows if r is not None]).astype(np.float32) if rows else np.zeros((0, dim))
        return cls(np.array(ids, dtype=str), np.array([s for s, _ in spans], dtype=np.int64),
                   np.array([e for _, e in spans], dtype=np.int64), vectors)


def _relative(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    base = spans[0][0] if spans else 0
    return [(s - base, e - base) for s, e in spans]
