"""The vector store on chroma: the only module that imports chromadb.

The same code serves an embedded ``PersistentClient`` (inside the index folder, the default) and a chroma
server (``CHROMA_HOST``/``CHROMA_PORT`` → ``HttpClient``). Collections are created with
``embedding_function=None`` and always receive our vectors, so chroma's default embedding function — which
downloads a model — can never run: a text-only query fails loudly instead.

Builds are versioned collections (``park__<build id>``); the index manifest names the live one, which is
how a rebuild swaps atomically and an interrupted build leaves the old index serving.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import StoreError


class ChromaStore:
    """One chroma collection. Build with :func:`open_client` + :meth:`create` / :meth:`open`."""

    def __init__(self, collection: Any) -> None:
        self._col = collection
        self.name: str = collection.name
        self._count: int | None = None  # cached: the retriever asks on every query; reset by upsert

    @classmethod
    def create(cls, client: Any, name: str) -> ChromaStore:
        try:
            col = client.create_collection(name, embedding_function=None,
                                           configuration={"hnsw": {"space": "cosine", "ef_search": 128}})
        except Exception as exc:
            raise StoreError(f"could not create chroma collection {name!r}: {exc}") from exc
        return cls(col)

    @classmethod
    def open(cls, client: Any, name: str) -> ChromaStore:
        try:
            return cls(client.get_collection(name, embedding_function=None))
        except Exception as exc:
            raise StoreError(
                f"chroma collection {name!r} is missing ({exc}); rebuild the index with `park-assistant index`"
            ) from exc

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[Mapping[str, str]]) -> None:
        batch = 2000
        try:
            for i in range(0, len(ids), batch):
                self._col.upsert(ids=list(ids[i : i + batch]), embeddings=vectors[i : i + batch],
                                 metadatas=[dict(m) for m in metadatas[i : i + batch]])
        except Exception as exc:
            raise StoreError(f"writing to chroma collection {self.name!r} failed: {exc}") from exc
        finally:
            self._count = None

    def query(self, vector: np.ndarray, k: int, where: Mapping[str, Any] | None = None) -> list[tuple[str, float]]:
        k = min(k, self.count())
        if k <= 0:
            return []
        try:
            res = self._col.query(query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=k,
                                  where=dict(where) if where else None, include=["distances"])
        except Exception as exc:
            raise StoreError(f"querying chroma collection {self.name!r} failed: {exc}") from exc
        return [(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        try:
            res = self._col.get(ids=list(ids), include=["embeddings"])
        except Exception as exc:
            raise StoreError(f"reading chroma collection {self.name!r} failed: {exc}") from exc
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(res["ids"], res["embeddings"], strict=True)}

    def count(self) -> int:
        if self._count is None:
            try:
                self._count = int(self._col.count())
            except Exception as exc:
                raise StoreError(f"counting chroma collection {self.name!r} failed: {exc}") from exc
        return self._count


def open_client(path: Path | None = None, host: str | None = None, port: int = 8000) -> Any:
    """A chroma client: a server when ``host`` is set, else embedded at ``path``. Telemetry off."""
    import chromadb

    settings = chromadb.Settings(anonymized_telemetry=False)
    try:
        if host:
            return chromadb.HttpClient(host=host, port=port, settings=settings)
        if path is None:
            raise StoreError("no chroma path given and CHROMA_HOST is not set")
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    except StoreError:
        raise
    except Exception as exc:
        where = f"chroma server at {host}:{port}" if host else f"chroma store at {path}"
        hint = " — is `chroma run` up? Check CHROMA_HOST/CHROMA_PORT" if host else ""
        raise StoreError(f"cannot open the {where}: {exc}{hint}") from exc


def collection_names(client: Any, prefix: str) -> list[str]:
    """Names of the collections starting with ``prefix`` (the builds of one index)."""
    return sorted(c.name for c in client.list_collections() if c.name.startswith(prefix))


def drop_collection(client: Any, name: str) -> None:
    """Delete a collection; a missing one is not an error (cleanup is best effort)."""
    with contextlib.suppress(Exception):  # already gone, or the server refused: the next build retries
        client.delete_collection(name)
