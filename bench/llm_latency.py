"""Latency of answers from the local model, through the real server, as a user sees them.

Starts ``python app.py`` (the local model as its child process) on a free loopback port, then over
``POST /api/v1/ask/stream``:

1. sequential: N dev questions (answerable, single-turn, the given split) one after another: the time to the
   ``sources`` event, to the first ``delta`` (first token shown) and to ``done``; p50/p95 of each. An answer's
   first ``delta`` is its first checked sentence, not the model's first token (a sentence is shown once it is
   complete and attributed); ``first_delta_s`` counts every answer (declines and quoted fallbacks show theirs
   at once), ``first_delta_llm_s`` only the model's;
2. concurrent: 10 users ask at the same moment: each one's time to ``done``, how long each waited in the
   queue for the model slot (``timings_ms.queue_wait`` of the ``done`` event), how many answers came from the
   model, how many were quoted because the model was busy (queue) or failing, and errors (non-200 or an
   ``error`` event).

Each answer also gives the model server's own seconds for reading the prompt and for generating
(``timings_ms.model_prompt`` / ``model_generate``): where the time went.

    .venv/bin/python bench/llm_latency.py [--questions 8] [--users 10] [--split check] [--threads 2]

Prints a table and writes ``bench/results/llm_latency.json``. Stops what it started by pid.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))], 2)


def ask(base: str, question: str, timeout_s: float = 600) -> dict[str, Any]:
    """One streamed question: event times (seconds from the request), mode, notice, error."""
    t0 = time.monotonic()
    out: dict[str, Any] = {"question": question, "sources_s": None, "first_delta_s": None, "done_s": None,
                           "queue_s": None, "model_prompt_s": None, "model_generate_s": None, "mode": None,
                           "notice": None, "error": None}
    try:
        with httpx.stream("POST", f"{base}/api/v1/ask/stream", json={"question": question}, timeout=timeout_s) as r:
            if r.status_code != 200:
                out["error"] = f"HTTP {r.status_code}"
                return out
            event = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    now = time.monotonic() - t0
                    if event == "sources" and out["sources_s"] is None:
                        out["sources_s"] = now
                    elif event == "delta" and out["first_delta_s"] is None:
                        out["first_delta_s"] = now
                elif line.startswith("data: ") and event in ("done", "error"):
                    data = json.loads(line[6:])
                    out["done_s"] = time.monotonic() - t0
                    if event == "error":
                        out["error"] = data.get("code")
                    else:
                        out["mode"], out["notice"] = data.get("mode"), data.get("notice")
                        timings = data.get("timings_ms") or {}
                        out["queue_s"] = round(timings.get("queue_wait", 0.0) / 1000, 2)
                        for key in ("model_prompt", "model_generate"):  # the model server's own seconds
                            if key in timings:
                                out[f"{key}_s"] = round(timings[key] / 1000, 2)
    except httpx.HTTPError as exc:
        out["error"] = type(exc).__name__
    return out


def _questions(split: str, n: int) -> list[str]:
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    good = [r["question"] for r in rows if r.get("split") == split and r.get("answerable") and not r.get("history")]
    return good[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=8)
    ap.add_argument("--users", type=int, default=10)
    ap.add_argument("--split", default="check")
    ap.add_argument("--threads", default=os.environ.get("PARK_LLM_THREADS", "2"))
    args = ap.parse_args()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PARK_PORT": str(port), "PARK_RATE_LIMIT": "10000", "PARK_LLM_THREADS": args.threads,
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    log = open(ROOT / "bench" / "results" / "llm_latency.server.log", "wb")  # noqa: SIM115 — lives as long as the server
    t_start = time.monotonic()
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        while time.monotonic() - t_start < 600:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                sys.exit(f"the server exited ({server.returncode}); see bench/results/llm_latency.server.log")
            time.sleep(0.5)
        startup = time.monotonic() - t_start
        info = httpx.get(f"{base}/readyz", timeout=5).json()
        print(f"server ready in {startup:.1f}s · {info} · load {os.getloadavg()}", flush=True)

        sequential = []
        for q in _questions(args.split, args.questions):
            r = ask(base, q)
            sequential.append(r)
            print(f"  {r['sources_s'] or 0:6.2f}s sources  {r['first_delta_s'] or 0:6.2f}s first  "
                  f"{r['done_s'] or 0:6.2f}s done  {r['mode']}  {q[:40]}", flush=True)

        users: list[dict[str, Any]] = []
        qs = (_questions(args.split, args.users) * args.users)[: args.users]
        threads = [threading.Thread(target=lambda q=q: users.append(ask(base, q))) for q in qs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
        out = {key: {"p50": _pct([r[key] for r in rows if r[key] is not None], 0.5),
                     "p95": _pct([r[key] for r in rows if r[key] is not None], 0.95)}
               for key in ("sources_s", "first_delta_s", "done_s", "queue_s", "model_prompt_s", "model_generate_s")}
        # first_delta_s counts every answer (a decline's or a quoted one's first line comes at once): this one
        # only the model's, whose first delta is its first checked sentence
        by_model = [r["first_delta_s"] for r in rows if r["mode"] == "llm" and r["first_delta_s"] is not None]
        out["first_delta_llm_s"] = {"p50": _pct(by_model, 0.5), "p95": _pct(by_model, 0.95)}
        return out

    busy_words = ("较多", "較多", "Many people")
    result = {
        "load_avg": os.getloadavg(), "threads": args.threads, "startup_s": round(startup, 1),
        "sequential": {"n": len(sequential), **summary(sequential),
                       "llm_answers": sum(r["mode"] == "llm" for r in sequential),
                       "errors": sum(bool(r["error"]) for r in sequential)},
        "concurrent": {"users": len(users), **summary(users),
                       "llm_answers": sum(r["mode"] == "llm" for r in users),
                       "quoted_busy": sum(bool(r["notice"]) and any(w in r["notice"] for w in busy_words)
                                          for r in users),
                       "quoted_other": sum(r["mode"] == "extractive" and not any(
                           w in (r["notice"] or "") for w in busy_words) for r in users),
                       "declined": sum(r["mode"] == "decline" for r in users),
                       "errors": sum(bool(r["error"]) for r in users)},
        "rows": {"sequential": sequential, "concurrent": users},
    }
    out = ROOT / "bench" / "results" / "llm_latency.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    for part in ("sequential", "concurrent"):
        print(part, json.dumps({k: v for k, v in result[part].items()}, ensure_ascii=False))
    print(f"load average {result['load_avg']} · threads {args.threads} · written {out}")


if __name__ == "__main__":
    main()
