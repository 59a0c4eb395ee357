"""Speed, memory and scale of the assistant, side by side with a plain LangChain + Chroma pipeline.

Run:  .venv/bin/python bench/run.py [--sizes 1000,10000,100000] [--quick] [--keep]

Prints one table and writes bench/results/bench.json and bench/results/bench.md. Every measurement runs in
its own subprocess (its peak RSS is its own); all indexes live in one temp folder, removed at the end
unless --keep. What is measured and how: bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from measure import machine  # noqa: E402
from report import markdown, rows  # noqa: E402
from serving import _env, cold_start, server_load  # noqa: E402

ROOT = HERE.parent
RESULTS = HERE / "results"
LC_SMALL_CHUNK = 220  # characters: the size of our chunk budget (220 tokens), for a like-for-like quality line


def _workers() -> dict[str, Any]:
    import baseline
    import workers

    return {**workers.WORKERS, **baseline.WORKERS}


def worker_main(name: str, spec_path: str, out_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    result = _workers()[name](spec)
    Path(out_path).write_text(json.dumps(result, ensure_ascii=False, default=str), encoding="utf-8")


class Runner:
    """Runs one measurement a subprocess, bounded in time; logs progress to stderr."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.t0 = time.perf_counter()
        self.n = 0

    def log(self, msg: str) -> None:
        print(f"[{time.perf_counter() - self.t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    def __call__(self, name: str, timeout_s: float, **spec: Any) -> dict[str, Any]:
        self.n += 1
        spec = {"work": str(self.work), **spec}
        spec_path, out_path = self.work / f"spec-{self.n}.json", self.work / f"out-{self.n}.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        label = f"{name} {json.dumps({k: v for k, v in spec.items() if k not in ('work', 'dir')})}"
        self.log(f"{label} …")
        t = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, __file__, "--worker", name, "--spec", str(spec_path), "--out", str(out_path)],
                capture_output=True,
                text=True,
                timeout=timeout_s,
                env=_env(),
                cwd=ROOT,
            )
        except subprocess.TimeoutExpired:
            self.log(f"{name} timed out after {timeout_s:.0f} s")
            return {"error": f"timed out after {timeout_s:.0f} s"}
        if proc.returncode != 0 or not out_path.exists():
            self.log(f"{name} failed:\n{proc.stderr[-3000:]}")
            return {"error": proc.stderr[-3000:]}
        self.log(f"{name} done in {time.perf_counter() - t:.1f} s")
        return json.loads(out_path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def run(sizes: list[int], work: Path, quick: bool, keep: bool = False) -> dict[str, Any]:
    run_ = Runner(work)
    res: dict[str, Any] = {
        "machine": machine(),
        "sizes": sizes,
        "quick": quick,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    res["prep"] = run_("prep", 600)
    if "error" in res["prep"]:
        return res
    shipped, lc_default, lc_small = work / "shipped", work / "lc-default", work / "lc-small"
    res["build"] = {
        "ours_real": run_("build_shipped", 600, dir=str(shipped), mode="real"),
        "ours_write": run_("build_shipped", 300, dir=str(work / "shipped-w"), mode="precomputed"),
        "lc_real": run_("lc_build_shipped", 600, dir=str(lc_default), mode="real", tag="default"),
        "lc_write": run_("lc_build_shipped", 300, dir=str(work / "lc-default-w"), mode="precomputed", tag="default"),
    }
    for d in ("shipped-w", "lc-default-w"):
        shutil.rmtree(work / d, ignore_errors=True)
    if not quick:
        res["build"]["lc_small_real"] = run_(
            "lc_build_shipped", 600, dir=str(lc_small), mode="real", tag="small", chunk_size=LC_SMALL_CHUNK
        )
    baselines = {"lc_default": str(lc_default)}
    if lc_small.exists():
        baselines["lc_small"] = str(lc_small)
    res["quality"] = run_("quality", 600, dir=str(shipped), baselines=baselines)

    question = "河套合作区总面积有多大？"
    runs = 1 if quick else 3
    run_.log(f"cold start ×{runs} (ours, langchain) …")
    res["cold"] = {
        "ours": cold_start("ours", shipped, question, runs),
        "lc": cold_start("langchain", lc_default, question, runs),
    }
    qs = [q["question"] for q in json.loads((work / "questions.json").read_text(encoding="utf-8"))]
    run_.log("server: 50 clients, ≤500 requests, ≤60 s …")
    res["server"] = server_load(shipped, qs, clients=50, total=200 if quick else 500, max_s=30 if quick else 60)
    run_.log(f"server done: {res['server'].get('requests_per_s')} req/s, errors {res['server'].get('errors')}")

    res["scale"] = {}
    for n in sizes:
        ours, lc = work / f"synth-{n}", work / f"lc-synth-{n}"
        s: dict[str, Any] = {
            "ours_write": run_("synth_write", 1200, dir=str(ours), n=n),
            "lc_write": run_("lc_synth_write", 900, dir=str(lc), n=n),
        }
        s["ours_retrieve"] = run_("retrieve", 600, dir=str(ours), passes=3, max_s=60, filtered=True)
        s["lc_retrieve"] = run_("lc_retrieve", 600, dir=str(lc), passes=3, max_s=60)
        if n == 10000:
            s["answer_precomputed"] = run_("answer", 600, dir=str(ours), mode="precomputed", passes=2, max_s=60)
            s["answer_real"] = run_("answer", 600, dir=str(ours), mode="real", passes=1, max_s=90)
        res["scale"][str(n)] = s
        if not keep:  # free the disk before the next, larger size
            shutil.rmtree(ours, ignore_errors=True)
            shutil.rmtree(lc, ignore_errors=True)
    res["machine"]["loadavg_end"] = machine()["loadavg"]
    res["seconds"] = round(time.perf_counter() - run_.t0, 1)
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="synthetic corpus sizes in chunks")
    parser.add_argument("--quick", action="store_true", help="sizes 1000,10000 only, fewer repeats")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder with the built indexes")
    parser.add_argument("--out", default=str(RESULTS), help="folder for bench.json and bench.md")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker, args.spec, args.out)
        return
    sizes = [1000, 10000] if args.quick else [int(x) for x in args.sizes.split(",") if x.strip()]
    work = Path(tempfile.mkdtemp(prefix="park-bench-"))
    try:
        res = run(sizes, work, args.quick, args.keep)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res["table"] = rows(res)
    (out / "bench.json").write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    md = markdown(res)
    (out / "bench.md").write_text(md, encoding="utf-8")
    print(md)


if __name__ == "__main__":
    main()
