"""BM25 over jieba tokens: the only module that imports jieba.

Chinese has no spaces, so text is segmented with jieba in search mode (words and their sub-words:
``总面积`` also yields ``面积``), after Traditional→Simplified folding, with a small dictionary of park terms
(``index/park_terms.txt``: 深圳园区, 皇岗口岸, 一线/二线 …) so they survive as units. Latin words are
lower-cased; decimals such as ``3.89`` stay whole.

The index is an inverted file with BM25 weights precomputed per posting, so a query costs one
``np.add.at`` per query term, not a pass over every document: fast at 100k chunks.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import jieba
import numpy as np

from assistant.lang import to_simplified

jieba.setLogLevel(logging.WARNING)

_LOCK = threading.Lock()
_LOADED_DICTS: set[str] = set()
_KEEP = re.compile(r"[\u3400-\u9fff]|[a-z0-9]", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")

#: Function words and question words that carry no topic (questions are full of them).
STOPWORDS = frozenset(
    """
    的 了 和 与 及 或 是 在 为 对 由 于 以 把 被 将 要 也 都 就 并 其 之 而 等 个 这 那 有 可 可以
    能 会 中 上 下 什么 哪些 哪个 哪 哪里 哪儿 多少 多大 几 怎么 怎样 如何 是否 吗 呢 吧 啊 请问 请
    一下 我 我们 你 你们 它 他们 有没有 具体 分别 情况 需要 主要 方面 相关 内容 关于 如何 什么样
    为什么 是不是 会不会 能否 the a an of to in on for and or is are was were be been by with as at
    from what which who whom how when where why does do did can could should would will there their
    its it this that these those any some about into than then also please tell me i we you
    哪几 几方面 做什么 是什么 有何 何种 哪种 哪类 多久 多长 怎么样 怎么办 要求 一些 时候 什么时候 何时 几时
    呀 么 到 给 让 向 从 来 去 得 着 过 方面
    """.split()
)


def load_user_dict(path: Path | None) -> None:
    """Teach jieba the park terms in ``path`` (one term a line; ``#`` comments). Loaded once a process."""
    if path is None or not path.exists():
        return
    key = str(path.resolve())
    with _LOCK:
        if key in _LOADED_DICTS:
            return
        for line in path.read_text(encoding="utf-8").splitlines():
            term = line.split("#", 1)[0].strip()
            if term:
                jieba.add_word(to_simplified(term), freq=200000)
        _LOADED_DICTS.add(key)


def is_dictionary_word(word: str) -> bool:
    """Is ``word`` in jieba's general dictionary (or the park terms it was taught)?"""
    jieba.initialize()
    return bool(jieba.dt.FREQ.get(word))


def tokenize(text: str, *, drop_stopwords: bool = True) -> list[str]:
    """Search-mode tokens of ``text`` after Traditional→Simplified folding and lower-casing."""
    text = to_simplified(text).lower()
    tokens = [t for t in jieba.cut_for_search(text) if _KEEP.search(t)]
    # jieba cuts "3.89" into "3", "89": keep the whole number too, it is what questions ask about.
    seen = set(tokens)
    tokens.extend(m.group(0) for m in _NUMBER.finditer(text) if "." in m.group(0) and m.group(0) not in seen)
    if drop_stopwords:
        tokens = [t for t in tokens if t not in STOPWORDS]
    return tokens


class BM25Index:
    """Okapi BM25 over pre-tokenised documents, with an inverted file of precomputed weights."""

    def __init__(self, vocab: dict[str, int], postings_ptr: np.ndarray, postings_doc: np.ndarray,
                 postings_weight: np.ndarray, n_docs: int, idf: np.ndarray) -> None:
        self.vocab = vocab
        self._ptr = postings_ptr
        self._doc = postings_doc
        self._weight = postings_weight
        self.n_docs = n_docs
        self._idf = idf

    @classmethod
    def build(cls, docs: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> BM25Index:
        """Index ``docs`` (each a token list); document numbers are their positions."""
        # Vectorised: one (term, document) code per token, counted with np.unique — no per-posting Python
        # objects, so 100k chunks build in a fraction of the time and memory.
        n = len(docs)
        lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=n)
        avgdl = float(lengths.mean()) if n and lengths.sum() else 1.0
        first_seen: dict[str, int] = {}
        codes = np.fromiter((first_seen.setdefault(t, len(first_seen)) for d in docs for t in d), dtype=np.int64,
                            count=int(lengths.sum()))
        terms = sorted(first_seen)
        vocab = {term: j for j, term in enumerate(terms)}
        remap = np.empty(len(first_seen), dtype=np.int64)
        for term, old in first_seen.items():
            remap[old] = vocab[term]
        doc_of_token = np.repeat(np.arange(n, dtype=np.int64), lengths)
        pairs, tf = np.unique(remap[codes] * max(n, 1) + doc_of_token, return_counts=True)
        term_of, doc_of = pairs // max(n, 1), pairs % max(n, 1)
        df = np.bincount(term_of, minlength=len(vocab))
        ptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(df, out=ptr[1:])
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        norm = tf + k1 * (1.0 - b + b * lengths[doc_of] / avgdl)
        weights = (idf[term_of] * tf * (k1 + 1.0) / norm).astype(np.float32)
        return cls(vocab, ptr, doc_of.astype(np.int32), weights, n, idf)

    def scores(self, query_tokens: Iterable[str]) -> np.ndarray:
        """BM25 score of every document for the query (0 where no term matches)."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        for term in set(query_tokens):
            j = self.vocab.get(term)
            if j is None:
                continue
            lo, hi = self._ptr[j], self._ptr[j + 1]
            np.add.at(out, self._doc[lo:hi], self._weight[lo:hi])
        return out

    def top(self, query_tokens: Sequence[str], k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` best ``(doc number, score)`` with a positive score, optionally within ``mask``."""
        s = self.scores(query_tokens)
        if mask is not None:
            s = np.where(mask, s, 0.0)
        k = min(k, int(np.count_nonzero(s)))
        if k <= 0:
            return []
        idx = np.argpartition(-s, k - 1)[:k]
        idx = idx[np.argsort(-s[idx], kind="stable")]
        return [(int(i), float(s[i])) for i in idx]

    def idf(self, term: str) -> float:
        """Inverse document frequency of ``term``; unseen terms get the maximum (they are the most specific)."""
        j = self.vocab.get(term)
        return float(self._idf[j]) if j is not None else math.log(1.0 + (self.n_docs + 0.5) / 0.5)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / "bm25.npz", ptr=self._ptr, doc=self._doc, weight=self._weight, idf=self._idf,
                 n_docs=np.array([self.n_docs]))
        (directory / "bm25_vocab.json").write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        data = np.load(directory / "bm25.npz")
        vocab = json.loads((directory / "bm25_vocab.json").read_text(encoding="utf-8"))
        return cls(vocab, data["ptr"], data["doc"], data["weight"], int(data["n_docs"][0]), data["idf"])


class DocFrequencies:
    """Document frequencies over the chunks' own text (no titles or section paths).

    BM25 indexes a chunk with its title and section path, so a title word (深圳园区) looks like it is in
    every chunk; to weigh a question's terms by how specific they are *in the text*, the extractive
    answerer uses these counts instead.
    """

    def __init__(self, df: dict[str, int], n_docs: int) -> None:
        self.df = df
        self.n_docs = n_docs

    @classmethod
    def build(cls, docs: Iterable[Sequence[str]]) -> DocFrequencies:
        df: Counter[str] = Counter()
        n = 0
        for doc in docs:
            df.update(set(doc))
            n += 1
        return cls(dict(df), n)

    def idf(self, term: str) -> float:
        """Smoothed IDF; a term seen nowhere gets the maximum."""
        return math.log(1.0 + (self.n_docs - self.df.get(term, 0) + 0.5) / (self.df.get(term, 0) + 0.5))

    def __contains__(self, term: object) -> bool:
        return term in self.df

    def save(self, directory: Path) -> None:
        (directory / "text_df.json").write_text(json.dumps({"n": self.n_docs, "df": self.df}, ensure_ascii=False),
                                                encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> DocFrequencies:
        data = json.loads((directory / "text_df.json").read_text(encoding="utf-8"))
        return cls(data["df"], int(data["n"]))
