"""ingest → chunk → embed → write: incremental and atomic.

Layout under ``<index_dir>/store/``::

    current.json            the manifest: which build serves (replaced atomically, last step of a build)
    builds/<id>/            chunks.jsonl, the BM25 index, the sentence vectors, the park terms used
    chroma/                 the embedded chroma store (absent when CHROMA_HOST points to a server)

A build embeds only chunks whose id (hash of source and content) the live build does not already have —
their vectors are copied from the live collection — writes everything into a new collection and build
folder, then swaps the manifest. Until that swap the previous index keeps serving, so an interrupted or
failed build loses nothing; leftovers of such a build are removed by the next one.

One build at a time: :func:`assistant.knowledge.builds.build_lock` makes a second concurrent run exit with a
clear message. A build a server still reads (a lease, see :mod:`assistant.knowledge.builds`) is kept after the
swap; the server drops it with :func:`drop_unused_builds` once its last request on it has finished. Source
files with the same content as an earlier one are skipped and named, so one sentence is never cited twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.data import Chunk, Document
from assistant.durable import sync_folder, write_durably
from assistant.errors import IndexBusyError, IndexNotBuiltError
from assistant.knowledge.builds import build_lock, doom, leased_builds
from assistant.knowledge.chunking import chunk_documents
from assistant.knowledge.embedding import Embedder, embed_batched, passage_text
from assistant.knowledge.fields import ChunkFields
from assistant.knowledge.ingest import SkippedFile, load_sources
from assistant.knowledge.lexical import BM25Index, DocFrequencies, load_user_dict, tokenize
from assistant.knowledge.sentences import SentenceVectors
from assistant.knowledge.store import ChromaStore, collection_names, drop_collection
from assistant.lang import to_simplified

log = logging.getLogger(__name__)

MANIFEST = "current.json"
#: Bumped when the files of a build change shape: an older build is then rebuilt (its vectors reused).
INDEX_FORMAT = 3  # 3: sentence vectors (sentences.npz)
PARK_TERMS = "park_terms.txt"


@dataclass(frozen=True)
class BuildReport:
    """What a build did: counts, timings and the files it had to skip."""

    build_id: str
    chunks: int
    embedded: int
    reused: int
    documents: int
    skipped: tuple[SkippedFile, ...]
    seconds: float
    unchanged: bool = False
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class LoadedIndex:
    """A built index, in memory: chunks in order, their BM25 index, and the vector collection."""

    manifest: dict[str, Any]
    chunks: list[Chunk]
    bm25: BM25Index
    store: ChromaStore
    text_df: DocFrequencies
    sentences: SentenceVectors | None = None
    by_id: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {c.id: i for i, c in enumerate(self.chunks)}
        # Per-chunk metadata coded once, so a filter is a table look-up (assistant.knowledge.fields).
        self.fields = ChunkFields(self.chunks)
        self._matrices: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def statuses(self, today: dt.date | None = None) -> np.ndarray:
        """Each chunk's lifecycle status on ``today`` (:func:`assistant.knowledge.lifecycle.status_of`), as an
        array of strings; worked out once a day."""
        return self.fields.statuses(today).decoded()

    def vector_rows(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of the chunks at positions ``rows`` as one matrix (in that order). The last few
        sets asked for are kept, since a filter asks for the same set on every query; the key is the rows'
        bytes, so a cached set is found without building its ids again."""
        rows = np.asarray(rows, dtype=np.int64)
        key = (len(rows), hash(rows.tobytes()))
        hit = self._matrices.get(key)
        if hit is not None and np.array_equal(hit[0], rows):
            return hit[1]
        ids = [self.chunks[int(i)].id for i in rows]
        found = self.store.vectors(ids) if ids else {}
        dim = len(next(iter(found.values()))) if found else 1
        zero = np.zeros(dim, dtype=np.float32)
        matrix = np.vstack([found.get(i, zero) for i in ids]).astype(np.float32) if ids else np.zeros((0, dim))
        if len(self._matrices) >= 8:
            self._matrices.pop(next(iter(self._matrices)))
        self._matrices[key] = (rows, matrix)
        return matrix

    def chunk(self, chunk_id: str) -> Chunk | None:
        i = self.by_id.get(chunk_id)
        return None if i is None else self.chunks[i]


def store_dir(index_dir: Path) -> Path:
    return index_dir / "store"


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    path = store_dir(index_dir) / MANIFEST
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _write_chunks(path: Path, chunks: list[Chunk]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for c in chunks:
            row = {"id": c.id, "source": c.source, "text": c.text, "start": c.start, "end": c.end,
                   "section": list(c.section), "meta": c.meta}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_chunks(path: Path) -> list[Chunk]:
    chunks = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            chunks.append(Chunk(id=r["id"], source=r["source"], text=r["text"], start=r["start"], end=r["end"],
                                section=tuple(r["section"]), meta=r["meta"]))
    return chunks


def chunk_index_text(chunk: Chunk) -> str:
    """The text a chunk is embedded and BM25-indexed as (Simplified, with its title and section path).

    A document split out of a collection (one policy of a policy list) is indexed under the collection's title
    with its own headings as the path, as it was inside the list: splitting a file does not change retrieval.
    """
    return to_simplified(passage_text(*_head_parts(chunk), chunk.text))


def chunk_head(chunk: Chunk) -> str:
    """The title-and-path part of :func:`chunk_index_text` (the text follows it after a newline)."""
    full = passage_text(*_head_parts(chunk), chunk.text)
    return full[: len(full) - len(chunk.text)]


def _head_parts(chunk: Chunk) -> tuple[str, tuple[str, ...]]:
    collection = chunk.meta.get("collection")
    return (str(collection), chunk.section) if collection else (chunk.title, chunk.section)


def _store_metadata(chunk: Chunk) -> dict[str, str]:
    """Flat string metadata for chroma filters (document, kind, status)."""
    meta = {"source": chunk.source}
    for key in ("kind", "status", "doc_no", "issuer"):
        if chunk.meta.get(key):
            meta[key] = str(chunk.meta[key])
    return meta


class Indexer:
    """Builds the index of ``sources`` into ``index_dir``. Dependencies passed in (see wiring)."""

    def __init__(self, *, sources: Path, index_dir: Path, embedder: Embedder, client: Any, collection: str,
                 count_tokens: Callable[[str], int], chunk_max_tokens: int = 220, chunk_min_tokens: int = 40,
                 park_terms: Path | None = None) -> None:
        self.sources = sources
        self.index_dir = index_dir
        self.embedder = embedder
        self.client = client
        self.prefix = f"{collection}__"
        self.count_tokens = count_tokens
        self.max_tokens = chunk_max_tokens
        self.min_tokens = chunk_min_tokens
        self.park_terms = park_terms if park_terms is not None else index_dir / PARK_TERMS

    def build(self, *, progress: Callable[[int, int], None] | None = None, force: bool = False) -> BuildReport:
        """Build (or refresh) the index; returns what was done. See the module docstring for the protocol.

        Raises :class:`IndexBusyError` when another build of the same index is running.
        """
        with build_lock(self.index_dir):
            return self._build(progress, force)

    def _build(self, progress: Callable[[int, int], None] | None, force: bool) -> BuildReport:
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        docs, skipped = load_sources(self.sources)
        docs, duplicates = drop_duplicates(docs)
        skipped = [*skipped, *duplicates]
        timings["ingest"] = time.perf_counter() - t0
        load_user_dict(self.park_terms if self.park_terms.exists() else None)
        chunks = chunk_documents(docs, self.count_tokens, self.max_tokens, self.min_tokens)
        timings["chunk"] = time.perf_counter() - t0 - timings["ingest"]

        root = store_dir(self.index_dir)
        old = read_manifest(self.index_dir)
        old_store = None
        if old is not None:
            try:
                old_store = ChromaStore.open(self.client, old["collection"])
            except Exception:
                old_store = None
        ids = [c.id for c in chunks]
        same_embedder = old is not None and old.get("embedder") == self.embedder.name
        if (not force and old is not None and old_store is not None and same_embedder
                and old.get("chunk_ids") == ids and old.get("park_terms") == self._terms_digest()
                and old.get("sources") == _source_digests(docs)  # front matter edits change no chunk id
                and old.get("format") == INDEX_FORMAT):
            self._cleanup(root, keep=old["build_id"])  # leftovers of an interrupted build (e.g. --force)
            return BuildReport(old["build_id"], len(chunks), 0, len(chunks), len(docs), tuple(skipped),
                               time.perf_counter() - t0, unchanged=True, timings=timings)

        self._cleanup(root, keep=old["build_id"] if old else None)
        build_id = time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
        build_dir = root / "builds" / build_id
        build_dir.mkdir(parents=True)

        # Reuse the vectors of unchanged chunks; embed the rest.
        reused: dict[str, np.ndarray] = {}
        if old_store is not None and same_embedder and not force:
            reused = old_store.vectors([i for i in ids if i in set(old.get("chunk_ids", []))]) if old else {}
        todo = [c for c in chunks if c.id not in reused]
        t_embed = time.perf_counter()
        new_vectors = embed_batched(self.embedder, [chunk_index_text(c) for c in todo], "passage", batch_size=16,
                                    progress=(lambda done: progress(done, len(todo))) if progress else None)
        # Sentence vectors too (rows of unchanged chunks copied from the live build).
        live = root / "builds" / old["build_id"] if old is not None and same_embedder and not force else None
        SentenceVectors.build(chunks, self.embedder, SentenceVectors.load(live) if live else None).save(build_dir)
        timings["embed"] = time.perf_counter() - t_embed
        fresh = {c.id: new_vectors[i] for i, c in enumerate(todo)}
        vectors = np.vstack([reused[i] if i in reused else fresh[i] for i in ids]) if ids else np.zeros((0, 1))

        t_write = time.perf_counter()
        store = ChromaStore.create(self.client, _collection_of(self.prefix, build_id))
        store.upsert(ids, vectors, [_store_metadata(c) for c in chunks])
        text_tokens = [tokenize(to_simplified(c.text)) for c in chunks]
        heads: dict[str, list[str]] = {}  # titles and section paths repeat: tokenise each once
        bm25_docs = []
        for c, tokens in zip(chunks, text_tokens, strict=True):
            head = to_simplified(chunk_head(c))
            if head not in heads:
                heads[head] = tokenize(head)
            bm25_docs.append(heads[head] + tokens)
        BM25Index.build(bm25_docs).save(build_dir)
        DocFrequencies.build(text_tokens).save(build_dir)
        _write_chunks(build_dir / "chunks.jsonl", chunks)
        if self.park_terms.exists():
            shutil.copy2(self.park_terms, build_dir / PARK_TERMS)
        timings["write"] = time.perf_counter() - t_write

        manifest = {
            "build_id": build_id,
            "collection": store.name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "embedder": self.embedder.name,
            "chunk_count": len(chunks),
            "chunk_ids": ids,
            "park_terms": self._terms_digest(),
            "sources": _source_digests(docs),
            "skipped": [{"source": s.source, "reason": s.reason} for s in skipped],
            "chunk_max_tokens": self.max_tokens,
            "format": INDEX_FORMAT,
        }
        sync_folder(build_dir)  # on disk before the manifest names them, so a power cut cannot leave it naming
        # empty files; the swap: from here on the new build serves (written whole, synced, renamed, folder synced)
        write_durably(root / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
        self._cleanup(root, keep=build_id)
        return BuildReport(build_id, len(chunks), len(todo), len(reused), len(docs), tuple(skipped),
                           time.perf_counter() - t0, timings=timings)

    def _terms_digest(self) -> str:
        return self.park_terms.read_text(encoding="utf-8") if self.park_terms.exists() else ""

    def _cleanup(self, root: Path, keep: str | None) -> None:
        """Remove builds (folders and collections) other than ``keep`` and those a server still reads."""
        _drop_builds(self.index_dir, self.client, self.prefix, {keep} if keep else set())


def _source_digests(docs: list[Document]) -> dict[str, str]:
    return {d.source: d.meta.get("sha1", d.sha1) for d in docs}


def drop_duplicates(docs: list[Document]) -> tuple[list[Document], list[SkippedFile]]:
    """The documents without those whose text repeats an earlier one's (named, as skipped files)."""
    first: dict[str, str] = {}
    kept: list[Document] = []
    duplicates: list[SkippedFile] = []
    for d in docs:
        if d.sha1 in first:
            duplicates.append(SkippedFile(d.source, f"same content as {first[d.sha1]} — remove one of the two"))
        else:
            first[d.sha1] = d.source
            kept.append(d)
    return kept, duplicates


def _collection_of(prefix: str, build_id: str) -> str:
    return prefix + build_id.replace("-", "_")


def _drop_builds(index_dir: Path, client: Any, prefix: str, keep: set[str]) -> None:
    """Drop every build but ``keep`` and those a reader holds a lease on (checked build by build, see doom)."""
    keep = keep | leased_builds(index_dir)
    folder = store_dir(index_dir) / "builds"
    builds = {d.name for d in folder.iterdir()} if folder.exists() else set()
    kept_cols = set()
    for build_id in sorted(builds):
        if build_id in keep:
            kept_cols.add(_collection_of(prefix, build_id))
            continue
        with doom(index_dir, build_id) as unused:
            if not unused:  # a reader took a lease since we looked
                kept_cols.add(_collection_of(prefix, build_id))
                continue
            drop_collection(client, _collection_of(prefix, build_id))
            shutil.rmtree(folder / build_id, ignore_errors=True)
    for name in collection_names(client, prefix):  # collections without a build folder: interrupted builds
        if name not in kept_cols and name not in {_collection_of(prefix, b) for b in keep}:
            drop_collection(client, name)


def drop_unused_builds(index_dir: Path, client: Any, collection: str) -> bool:
    """Drop the builds (collections and folders) that are neither live nor held by a lease.

    Does nothing and returns False while a build is running (that build cleans up when it is done).
    """
    try:
        with build_lock(index_dir, purpose="cleanup"):
            manifest = read_manifest(index_dir)
            _drop_builds(index_dir, client, f"{collection}__", {manifest["build_id"]} if manifest else set())
    except IndexBusyError:
        return False
    return True


def live_chunks(index_dir: Path) -> tuple[dict[str, Any], list[Chunk]] | None:
    """The live build's manifest and chunks (no vectors, no chroma), or None when nothing is built."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        return None
    path = store_dir(index_dir) / "builds" / manifest["build_id"] / "chunks.jsonl"
    return (manifest, _read_chunks(path)) if path.exists() else None


def load_index(index_dir: Path, client: Any) -> LoadedIndex:
    """Open the live build. Raises IndexNotBuiltError with the command to run when there is none."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise IndexNotBuiltError(f"no index at {store_dir(index_dir)} — run `park-assistant index` first")
    if manifest.get("format") != INDEX_FORMAT:
        raise IndexNotBuiltError(f"the index at {store_dir(index_dir)} was built by an older version "
                                 f"(format {manifest.get('format')}, now {INDEX_FORMAT}) — run `park-assistant index`")
    build_dir = store_dir(index_dir) / "builds" / manifest["build_id"]
    if not all((build_dir / name).exists() for name in ("chunks.jsonl", "bm25.npz", "text_df.json")):
        raise IndexNotBuiltError(f"index build {build_dir} is incomplete — run `park-assistant index --force`")
    load_user_dict(build_dir / PARK_TERMS if (build_dir / PARK_TERMS).exists() else None)
    return LoadedIndex(manifest=manifest, chunks=_read_chunks(build_dir / "chunks.jsonl"),
                       bm25=BM25Index.load(build_dir), store=ChromaStore.open(client, manifest["collection"]),
                       text_df=DocFrequencies.load(build_dir), sentences=SentenceVectors.load(build_dir))
