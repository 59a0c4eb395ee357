"""Synthetic policy-like corpora of any size, built from the shipped corpus' own sentences, with vectors.

Embedding 100k chunks with the real model takes hours on 2 cores, so the benchmark builds chunks and
vectors deterministically (fixed seed) instead:

* **Text.** Every sentence of ``index/sources`` (split like the chunker does) is a building block. A synthetic
  chunk is 1–4 of them with their numbers perturbed (same digit count), sometimes a P-number or an article
  reference added, under a synthetic document title, a ``三、…`` section heading taken from the real headings
  and often a numbered-item label (``3.``), so BM25, jieba and the list logic of the answerer see realistic
  Chinese policy text. ~40 chunks per synthetic document; each has kind/status/doc_no metadata.
* **Vectors.** Real multilingual-e5 passage vectors of the distinct corpus sentences (computed once by the
  real embedder); a chunk's vector is the normalised mean of its sentences' vectors plus Gaussian noise
  (norm ≈ ``NOISE_NORM``), seeded. So the vector space has the real model's geometry and clustering.

:func:`write_index` writes chunks + vectors exactly as ``Indexer.build`` lays a build out (chroma collection,
``chunks.jsonl``, BM25, text DF, park terms, manifest), so ``load_index`` + ``HybridRetriever`` open it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jieba
import numpy as np

from assistant.config import Settings
from assistant.data import Chunk, EmbedKind
from assistant.knowledge.chunking import split_sentences
from assistant.knowledge.indexing import (
    INDEX_FORMAT,
    MANIFEST,
    PARK_TERMS,
    _store_metadata,
    _write_chunks,
    chunk_index_text,
    store_dir,
)
from assistant.knowledge.ingest import load_sources
from assistant.knowledge.lexical import BM25Index, DocFrequencies, load_user_dict, tokenize
from assistant.knowledge.store import ChromaStore
from assistant.lang import to_traditional

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "index" / "sources"
DEV = Path("/work/shared/eval/dev.jsonl")
EMBEDDER_NAME = "multilingual-e5-small-q4"  # what the real embedder writes into a manifest
NOISE_NORM = 0.15
CHUNKS_PER_DOC = 40
_LABEL = re.compile(r"^\s*(?:[-*•]\s*|\d{1,2}[.、．]\s*|（\d{1,2}）\s*|#+\s*)")
_HEADING = re.compile(r"^#{2,4}\s+(.+)$", re.M)
_DIGITS = re.compile(r"\d+")
_CN = "一二三四五六七八九十"
_KINDS = ("plan", "policy", "article", "notice")
_STATUSES = ("现行有效", "已失效", "征求意见稿")
_SCOPES = ("深圳园区", "香港园区", "both")
_ISSUERS = ("深圳市人民政府", "深圳市科技创新局", "福田区人民政府", "深圳海关", "国家税务总局深圳市税务局")


@dataclass(frozen=True)
class Material:
    """The building blocks taken from the real corpus."""

    sentences: tuple[str, ...]
    headings: tuple[str, ...]
    titles: tuple[str, ...]


def material(sources: Path = SOURCES) -> Material:
    """Distinct sentences (labels stripped, ≥ 8 chars), section headings and titles of ``sources``."""
    docs, _ = load_sources(sources)
    sentences: dict[str, None] = {}
    headings: dict[str, None] = {}
    for doc in docs:
        for start, end in split_sentences(doc.text):
            raw = doc.text[start:end].strip()
            s = _LABEL.sub("", raw).strip()
            if len(s) >= 8 and not raw.startswith(("#", "---", "|")):
                sentences[s] = None
        for m in _HEADING.finditer(doc.text):
            h = re.sub(r"^(?:[〇一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|P\d+\s*)", "", m.group(1)).strip()
            if 2 <= len(h) <= 40:
                headings[h] = None
    return Material(tuple(sentences), tuple(headings), tuple(d.title for d in docs))


def material_digest(m: Material) -> str:
    return hashlib.sha1("\n".join(m.sentences).encode("utf-8")).hexdigest()[:12]


def _perturb(sentence: str, rng: np.random.Generator) -> str:
    def repl(match: re.Match[str]) -> str:
        digits = match.group(0)
        if rng.random() < 0.5:
            return digits
        lo = 10 ** (len(digits) - 1) if len(digits) > 1 else 0
        return str(int(rng.integers(lo, 10 ** len(digits))))

    s = _DIGITS.sub(repl, sentence)
    r = rng.random()
    if r < 0.15:
        s = f"根据P{int(rng.integers(1, 40)):02d}，{s}"
    elif r < 0.25:
        s = f"{s.rstrip('。')}（第{int(rng.integers(1, 60))}条）。"
    return s


def generate(n: int, m: Material, base_vectors: np.ndarray, seed: int = 7) -> tuple[list[Chunk], np.ndarray]:
    """``n`` synthetic chunks and their unit vectors (``n`` x dim float32), the same for the same inputs."""
    rng = np.random.default_rng(seed)
    dim = base_vectors.shape[1]
    sigma = NOISE_NORM / np.sqrt(dim)
    chunks: list[Chunk] = []
    vectors = np.empty((n, dim), dtype=np.float32)
    n_sent = len(m.sentences)
    seen: set[str] = set()
    doc = 0
    while len(chunks) < n:
        doc += 1
        year = int(rng.integers(2019, 2027))
        topic = m.headings[int(rng.integers(len(m.headings)))]
        title = f"{m.titles[doc % len(m.titles)][:24]}·{topic}（{year}年第{doc}号汇编）"
        source = f"synth/doc-{doc:06d}.md"
        meta_doc = {
            "title": title,
            "issuer": _ISSUERS[int(rng.integers(len(_ISSUERS)))],
            "doc_no": f"深府〔{year}〕{int(rng.integers(1, 300))}号",
            "date": f"{year}-{int(rng.integers(1, 13)):02d}",
            "kind": _KINDS[int(rng.integers(len(_KINDS)))],
            "status": _STATUSES[int(rng.integers(3))],
            "scope": _SCOPES[doc % len(_SCOPES)],  # not drawn from rng: the rest of the corpus stays as it was
        }
        offset = 0
        section_no = 0
        item = 0
        heading = ""
        for ordinal in range(min(CHUNKS_PER_DOC, n - len(chunks))):
            if item == 0 or rng.random() < 0.12:
                section_no += 1
                item = 0
                heading = f"{_CN[(section_no - 1) % 10]}、{m.headings[int(rng.integers(len(m.headings)))]}"
            listed = rng.random() < 0.6
            item += 1
            section = (title, heading, f"{item}.") if listed else (title, heading)
            while True:  # a chunk id (source, section, text) must be unique: redraw the rare repeat
                picks = rng.integers(0, n_sent, size=int(rng.integers(1, 5)))
                parts: list[str] = []
                for p in picks:
                    parts.append(_perturb(m.sentences[int(p)], rng))
                    if sum(map(len, parts)) > 160:
                        break
                text = (f"{item}. " if listed else "") + "".join(parts)
                chunk_id = Chunk.make_id(source, text, section)
                if chunk_id not in seen:
                    seen.add(chunk_id)
                    break
            used = picks[: len(parts)]
            meta = {**meta_doc, "ordinal": ordinal}
            chunks.append(
                Chunk(
                    id=chunk_id,
                    source=source,
                    text=text,
                    start=offset,
                    end=offset + len(text),
                    section=section,
                    meta=meta,
                )
            )
            v = base_vectors[used].mean(axis=0) + rng.normal(0.0, sigma, dim)
            vectors[len(chunks) - 1] = v / np.linalg.norm(v)
            offset += len(text) + 1
    return chunks, vectors


def questions(m: Material, n_synthetic: int = 71, seed: int = 11) -> list[dict[str, str]]:
    """The fixed query set: every dev question, then synthetic ones (zh-Hans, zh-Hant, English) from the corpus."""
    rows: list[dict[str, str]] = []
    if DEV.exists():
        for line in DEV.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                rows.append({"id": r["id"], "question": r["question"]})
    rng = np.random.default_rng(seed)
    zh = ("{}有什么规定？", "关于{}的政策是什么？", "{}的具体要求有哪些？", "请介绍一下{}。", "{}是怎么安排的？")
    en = (
        "What does the policy say about {}?",
        "How does the {} work in the Hetao zone?",
        "Which rules apply to the {}?",
        "Tell me about the {} of the Shenzhen park.",
    )
    en_terms = (
        "customs supervision",
        "first line",
        "whitelist",
        "talent",
        "tax incentive",
        "research equipment",
        "cross-border data",
        "land border crossing",
        "Futian bonded zone",
        "individual income tax",
        "Hong Kong park",
        "pilot transformation",
        "science park",
        "funding",
    )
    i = 0
    while i < n_synthetic:
        i += 1
        kind = rng.random()
        if kind < 0.15:
            q = en[int(rng.integers(len(en)))].format(en_terms[int(rng.integers(len(en_terms)))])
        else:
            words = [
                w
                for w in jieba.lcut(m.sentences[int(rng.integers(len(m.sentences)))])
                if re.fullmatch(r"[\u3400-\u9fff0-9]+", w)
            ]
            start = int(rng.integers(0, max(1, len(words) - 3)))
            frag = "".join(words[start : start + int(rng.integers(2, 4))])
            q = zh[int(rng.integers(len(zh)))].format(frag)
            if kind > 0.85:
                q = to_traditional(q)
        rows.append({"id": f"syn-{i:03d}", "question": q})
    return rows


class PrecomputedEmbedder:
    """An Embedder that looks vectors up instead of computing them; a miss is an error (never a silent fallback).

    Lets the benchmark time retrieval and answering with the embedding step excluded, and give the plain
    LangChain baseline exactly the same vectors as ours.
    """

    name = EMBEDDER_NAME

    def __init__(self, table: dict[tuple[str, str], np.ndarray]) -> None:
        self.table = table

    @classmethod
    def from_arrays(cls, kinds: Sequence[str], texts: Sequence[str], vectors: np.ndarray) -> PrecomputedEmbedder:
        return cls({(k, t): vectors[i] for i, (k, t) in enumerate(zip(kinds, texts, strict=True))})

    def embed(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        try:
            return np.vstack([self.table[(kind, t)] for t in texts]).astype(np.float32, copy=False)
        except KeyError as exc:
            raise KeyError(f"no precomputed {kind} vector for {exc.args[0][1][:60]!r}") from None


def save_table(path: Path, kinds: Sequence[str], texts: Sequence[str], vectors: np.ndarray) -> None:
    np.savez(path, kinds=np.array(kinds), texts=np.array(texts), vectors=np.asarray(vectors, dtype=np.float32))


def load_table(*paths: Path) -> PrecomputedEmbedder:
    table: dict[tuple[str, str], np.ndarray] = {}
    for path in paths:
        data = np.load(path)
        table.update(PrecomputedEmbedder.from_arrays(list(data["kinds"]), list(data["texts"]), data["vectors"]).table)
    return PrecomputedEmbedder(table)


def prepare_index_dir(index_dir: Path) -> None:
    """An index folder with the shipped glossary and park terms (what ``load_index``/wiring read beside the store)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    for name in ("glossary.tsv", PARK_TERMS):
        if (ROOT / "index" / name).exists():
            shutil.copy2(ROOT / "index" / name, index_dir / name)


def write_index(
    index_dir: Path, client: Any, chunks: list[Chunk], vectors: np.ndarray, collection: str = "park"
) -> dict[str, float]:
    """Write one build the way ``Indexer.build`` does after embedding; returns the timing of each step (s)."""
    prepare_index_dir(index_dir)
    terms = index_dir / PARK_TERMS
    load_user_dict(terms if terms.exists() else None)
    root = store_dir(index_dir)
    build_id = time.strftime("%Y%m%d%H%M%S") + "-bench"
    build_dir = root / "builds" / build_id
    build_dir.mkdir(parents=True)
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    store = ChromaStore.create(client, f"{collection}__{build_id.replace('-', '_')}")
    store.upsert([c.id for c in chunks], vectors, [_store_metadata(c) for c in chunks])
    t["chroma"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    BM25Index.build([tokenize(chunk_index_text(c)) for c in chunks]).save(build_dir)
    t["bm25"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    DocFrequencies.build(tokenize(c.text) for c in chunks).save(build_dir)
    _write_chunks(build_dir / "chunks.jsonl", chunks)
    if terms.exists():
        shutil.copy2(terms, build_dir / PARK_TERMS)
    manifest = {
        "build_id": build_id,
        "collection": store.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "embedder": EMBEDDER_NAME,
        "chunk_count": len(chunks),
        "chunk_ids": [c.id for c in chunks],
        "park_terms": terms.read_text(encoding="utf-8") if terms.exists() else "",
        "sources": {},
        "skipped": [],
        "chunk_max_tokens": 220,
        "format": INDEX_FORMAT,
        "synthetic": True,
    }
    tmp = root / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, root / MANIFEST)
    t["text_df+chunks+manifest"] = time.perf_counter() - t2
    t["total"] = time.perf_counter() - t0
    return t


def settings_for(index_dir: Path) -> Settings:
    """Defaults (extractive, bundled e5), pointed at a benchmark index folder; the environment is not read."""
    return Settings(
        index_dir=index_dir, sources_dir=SOURCES, feedback_db=index_dir / "feedback.sqlite3", mode="extractive"
    )
