"""The LangChain faces of the index: the hybrid retriever as a ``BaseRetriever`` and any Embedder as
``Embeddings``, so others can plug the park index into their chains.

Kept apart from the modules they wrap because importing langchain's runnable stack costs about half a second
of start-up that the assistant itself does not need.

>>> # from assistant.wiring import build_retriever
>>> # docs = ParkRetriever(retriever=build_retriever(settings), k=5).invoke("深圳园区实行什么管理模式？")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever

from assistant.data import Filters, Passage
from assistant.knowledge.embedding import Embedder, embed_batched


def passage_to_langchain(p: Passage) -> LCDocument:
    """A Passage as a LangChain Document: the chunk text, with citation metadata flattened."""
    c = p.chunk
    meta: dict[str, Any] = {k: v for k, v in c.meta.items() if isinstance(v, str | int | float)}
    meta.update({"id": c.id, "source": c.source, "section": c.section_path, "start": c.start, "end": c.end,
                 "score": p.score})
    return LCDocument(page_content=c.text, metadata=meta, id=c.id)


class ParkRetriever(BaseRetriever):
    """The hybrid retriever as a LangChain ``BaseRetriever``.

    >>> # retriever = ParkRetriever(retriever=build_retriever(settings), k=5)
    >>> # retriever.invoke("河套合作区总面积有多大？")  → list[langchain Document]
    """

    retriever: Any
    k: int = 6
    filters: Mapping[str, Sequence[str]] = {}

    def _get_relevant_documents(self, query: str, *,
                                run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        f = Filters(**{key: tuple(v) for key, v in self.filters.items()})
        return [passage_to_langchain(p) for p in self.retriever.search(query, self.k, f).passages]


class LangChainEmbeddings(Embeddings):
    """Any :class:`Embedder` as a LangChain ``Embeddings`` (documents use the passage prefix).

    >>> from assistant.testing import FakeEmbedder
    >>> len(LangChainEmbeddings(FakeEmbedder()).embed_query("河套"))
    64
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return embed_batched(self.embedder, texts, "passage").tolist()  # type: ignore[no-any-return, unused-ignore]

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed([text], "query")[0].tolist()  # type: ignore[no-any-return, unused-ignore]
