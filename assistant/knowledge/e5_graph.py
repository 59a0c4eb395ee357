"""The e5 encoder as an ONNX graph, written as hand-encoded protobuf (no ``onnx`` dependency): 4-bit weights
go straight into ``MatMulNBits``, the small Q/K/V projections are dequantised once for the fused ``Attention``
op, layer norms and GELU are fused."""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from assistant.knowledge.e5_model import QK, E5Config


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


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks [..., n_blocks] -> float32 [..., n_blocks * 32], exactly as ``deq_row`` in e5.c."""
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32) - np.float32(8.0)
    return (q * blocks["d"].astype(np.float32)[..., None]).reshape(*blocks.shape[:-1], -1)


def build_graph(cfg: E5Config, w: dict[str, np.ndarray]) -> bytes:
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
                K=packed.shape[1] * QK,
                N=n_out,
                bits=4,
                block_size=QK,
            )
        )

    h = "h0"
    for i in range(cfg.layers):
        p = f"l{i}"
        # the fused Attention op takes float32 [H, 3H] weights; dequantising them once is exact
        qkv = np.concatenate([dequantize(w[f"{p}.{t}.w"].reshape(H, -1)) for t in "qkv"]).T
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
