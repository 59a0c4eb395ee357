"""Process-level measurements: cold start to first answer, and the real server under 50 concurrent clients.

Both start fresh Python processes (only on 127.0.0.1), bound every wait, and stop what they started by pid.
"""

from __future__ import annotations

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

from measure import percentiles, proc_status

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

_OURS_COLD = """
import time; t_main = time.time()
import json, sys
from pathlib import Path
from assistant.config import Settings
from assistant.wiring import build_assistant
t_import = time.time()
d = Path(sys.argv[1])
assistant = build_assistant(Settings(index_dir=d, sources_dir=Path(sys.argv[3]), feedback_db=d / "fb.sqlite3",
                                     mode="extractive"))
t_build = time.time()
answer = assistant.answer(sys.argv[2])
t_answer = time.time()
print(json.dumps({"t_main": t_main, "t_import": t_import, "t_build": t_build, "t_answer": t_answer,
                  "ok": bool(answer.answerable and answer.citations)}))
"""

_LC_COLD = """
import time; t_main = time.time()
import json, sys
import chromadb
from langchain_chroma import Chroma
from assistant.knowledge.embedding import E5Embedder
from assistant.langchain_adapters import LangChainEmbeddings
t_import = time.time()
store = Chroma(collection_name="bench", embedding_function=LangChainEmbeddings(E5Embedder()),
               persist_directory=sys.argv[1], client_settings=chromadb.Settings(anonymized_telemetry=False))
t_build = time.time()
docs = store.similarity_search(sys.argv[2], k=6)
t_answer = time.time()
print(json.dumps({"t_main": t_main, "t_import": t_import, "t_build": t_build, "t_answer": t_answer,
                  "ok": len(docs) > 0}))
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARK_", "OPENAI_", "CHROMA_"))}
    env.update(
        {
            "GRADIO_ANALYTICS_ENABLED": "False",
            "HF_HUB_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        **extra,
    )
    return env


def cold_start(kind: str, directory: Path, question: str, runs: int, timeout_s: float = 120) -> dict[str, Any]:
    """Wall time from spawning a fresh interpreter to its first answer (``ours``) or first result (``langchain``)."""
    code = _OURS_COLD if kind == "ours" else _LC_COLD
    samples = []
    for _ in range(runs):
        t0 = time.time()
        proc = subprocess.run(
            [PYTHON, "-c", code, str(directory), question, str(ROOT / "index" / "sources")],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=_env(),
            cwd=ROOT,
        )
        if proc.returncode != 0:
            return {"error": proc.stderr[-2000:]}
        s = json.loads(proc.stdout.strip().splitlines()[-1])
        samples.append(
            {
                "total_s": s["t_answer"] - t0,
                "interpreter_s": s["t_main"] - t0,
                "imports_s": s["t_import"] - s["t_main"],
                "build_s": s["t_build"] - s["t_import"],
                "first_answer_s": s["t_answer"] - s["t_build"],
                "ok": s["ok"],
            }
        )
    best = sorted(samples, key=lambda x: x["total_s"])[len(samples) // 2]  # the median run, with its split
    return {
        "runs": len(samples),
        "median": {k: round(v, 3) if isinstance(v, float) else v for k, v in best.items()},
        "max_total_s": round(max(x["total_s"] for x in samples), 3),
        "all_ok": all(x["ok"] for x in samples),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_SERVER = """
import uvicorn
from assistant.config import Settings
from assistant.web.server import build_app
from assistant.wiring import live_assistant
s = Settings.from_env()
uvicorn.run(build_app(s, live_assistant(s)), host="127.0.0.1", port=s.port, log_level="warning")
"""


def server_load(
    directory: Path,
    questions: list[str],
    *,
    clients: int = 50,
    total: int = 500,
    max_s: float = 60.0,
    rate_limit: int = 1_000_000,
) -> dict[str, Any]:
    """Start the real app (API + web chat) under uvicorn and POST /api/v1/ask from ``clients`` threads.

    ``PARK_RATE_LIMIT`` is raised to ``rate_limit`` for the run: every client is 127.0.0.1, so the
    per-client limit (30/min by default) would otherwise turn most requests into 429s.
    """
    import httpx

    port = _free_port()
    env = _env(
        PARK_RATE_LIMIT=str(rate_limit),
        PARK_INDEX_DIR=str(directory),
        PARK_PORT=str(port),
        PARK_HOST="127.0.0.1",
        PARK_FEEDBACK_DB=str(directory / "server-feedback.sqlite3"),
        PARK_SOURCES_DIR=str(ROOT / "index" / "sources"),
        PARK_MODE="extractive",
    )
    log = open(directory / "server.log", "w")  # noqa: SIM115  (closed in finally)
    proc = subprocess.Popen(
        [PYTHON, "-c", _SERVER], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        while True:
            if proc.poll() is not None or time.perf_counter() - t0 > 120:
                log.flush()
                return {"error": "server did not come up: " + (directory / "server.log").read_text()[-2000:]}
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        startup_s = time.perf_counter() - t0
        with httpx.Client(timeout=60) as c:
            for q in questions[:3]:
                c.post(base + "/api/v1/ask", json={"question": q})

        lock = threading.Lock()
        issued = [0]
        records: list[tuple[int, float]] = []  # (status or -1 for an exception, latency ms)
        deadline = time.perf_counter() + max_s

        def client() -> None:
            with httpx.Client(timeout=60) as c:
                while True:
                    with lock:
                        if issued[0] >= total or time.perf_counter() > deadline:
                            return
                        i = issued[0]
                        issued[0] += 1
                    t = time.perf_counter()
                    try:
                        body = {"question": questions[i % len(questions)]}
                        status = c.post(base + "/api/v1/ask", json=body).status_code
                    except httpx.HTTPError:
                        status = -1
                    with lock:
                        records.append((status, (time.perf_counter() - t) * 1000))

        threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=max_s + 70)
        wall = time.perf_counter() - start
        ok = [ms for status, ms in records if status == 200]
        errors: dict[str, int] = {}
        for status, _ in records:
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1
        return {
            "clients": clients,
            "requests": len(records),
            "ok": len(ok),
            "errors": sum(errors.values()),
            "errors_by_status": errors,
            "wall_s": round(wall, 2),
            "requests_per_s": round(len(ok) / wall, 2),
            "latency_ms": percentiles(ok),
            "startup_s": round(startup_s, 2),
            "rate_limit": rate_limit,
            "server": proc_status(proc.pid),
        }
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log.close()
