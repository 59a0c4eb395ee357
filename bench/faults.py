"""Replay the reliability and security probe against the real server and print a table: tried / held / failed.

    .venv/bin/python bench/faults.py            # ~3 minutes; writes bench/results/faults.md and faults.json

Everything runs on a copy of the shipped index in a temporary folder, with real servers started by
``park-assistant serve`` (as an operator would) and real ``park-assistant index --force`` runs:

* bad inputs on every JSON route (malformed JSON, wrong types, lone surrogates, oversize fields) → clear 4xx
* oversize bodies, with Content-Length and chunked (10 MB, 100 MB) → 413 without reading them whole
* spoofed X-Forwarded-For, a foreign Host, foreign Origins (API and the web chat's gradio routes), the web
  chat's events over the rate limit
* a rebuild under load: 5 asks a second across ``park-assistant index --force`` on the serving index; and two
  concurrent ``index`` runs
* a hung model: asks stuck on an LLM endpoint that never answers, while /healthz and /readyz are timed; the
  fallback answers must not show the endpoint's address

"held" means the server answered as it should; "failed" counts the rest. Exit code 1 when any row failed.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "park-assistant")
OUT = ROOT / "bench" / "results"
QUESTION = "河套合作区总面积有多大？"
Row = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(index_dir: Path, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PARK_", "OPENAI_", "CHROMA_"))}
    return {**keep, "PARK_INDEX_DIR": str(index_dir), "PARK_MODE": "extractive", "PARK_RELOAD_INTERVAL": "1",
            "PARK_FEEDBACK_DB": str(index_dir / "feedback.sqlite3"), "GRADIO_ANALYTICS_ENABLED": "False",
            "HF_HUB_OFFLINE": "1", **extra}


@contextmanager
def server(index_dir: Path, log_name: str, **extra: str) -> Iterator[str]:
    """``park-assistant serve`` on a free port; yields its base URL, stops it after."""
    port = free_port()
    env = env_for(index_dir, PARK_PORT=str(port), **extra)
    with (index_dir.parent / f"{log_name}.log").open("w") as log:
        proc = subprocess.Popen([CLI, "serve"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: see {log.name}")
                try:
                    if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.3)
            yield base
        finally:
            proc.terminate()
            proc.wait(20)


def row(name: str, results: list[bool], note: str = "") -> Row:
    return {"fault": name, "tried": len(results), "held": sum(results), "failed": len(results) - sum(results),
            "note": note}


def clear_4xx(r: httpx.Response, statuses: tuple[int, ...] = ()) -> bool:
    """A JSON error body with a code, a 4xx status (one of ``statuses`` when given), no stack trace."""
    try:
        code = r.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return False
    ok_status = r.status_code in statuses if statuses else 400 <= r.status_code < 500
    return ok_status and bool(code) and "Traceback" not in r.text


# --- bad inputs ----------------------------------------------------------------------------------


def bad_inputs() -> list[tuple[str, bytes]]:
    big = "问" * 5000
    ask = [b"", b"{", b"[]", b"null", b'"question"', b'{"question": 5}', b'{"question": null}', b'{"question": ""}',
           b'{"question": "   "}', b'{"question": ["a"]}', b'{"question": {"a": 1}}', b'{"question": "\\ud800"}',
           b'{"question": "a\\udfff b"}', b'{"question": "ok", "history": "x"}', b'{"question": "ok", "history": [1]}',
           b'{"question": "ok", "history": [{"role": "system", "content": "x"}]}',
           b'{"question": "ok", "history": [{"role": "user", "content": "\\udc00"}]}',
           b'{"question": "ok", "lang": "fr"}', b'{"question": "ok", "lang": 3}',
           json.dumps({"question": big}).encode(), json.dumps({"question": "ok", "history": [
               {"role": "user", "content": "x"}] * 50}).encode(),
           json.dumps({"question": "ok", "history": [{"role": "user", "content": "x" * 9000}]}).encode(),
           b"[" * 5000 + b"]" * 5000, b'{"question": "' + b"\xff\xfe" + b'"}']
    chat = [b"{}", b'{"messages": []}', b'{"messages": "hi"}', b'{"messages": [{"role": "user"}]}',
            b'{"messages": [{"role": "wizard", "content": "x"}]}', b'{"messages": [{"role": "user", "content": 5}]}',
            b'{"messages": [{"role": "assistant", "content": "only an answer"}]}',
            b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
            b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "\\ud83d"}]}]}',
            b'{"messages": [{"role": "user", "content": "ok"}], "stream": "yes"}',
            json.dumps({"messages": [{"role": "user", "content": "问" * 5000}]}).encode(),
            b'{"messages": [{"role": "user", "content": ""}]}']
    feedback = [b"{}", b'{"question": "q", "answer": "a", "rating": "meh"}',
                b'{"question": "\\ud800", "answer": "a", "rating": "up"}',
                b'{"question": "q", "answer": "a", "rating": "up", "citations": "x"}',
                json.dumps({"question": "q", "answer": "a" * 30000, "rating": "up"}).encode()]
    return ([("/api/v1/ask", b) for b in ask] + [("/api/v1/ask/stream", b) for b in ask[::3]]
            + [("/v1/chat/completions", b) for b in chat] + [("/api/v1/feedback", b) for b in feedback])


def probe_bad_inputs(base: str) -> Row:
    results = []
    with httpx.Client(base_url=base, timeout=60) as c:
        for path, body in bad_inputs():
            r = c.post(path, content=body, headers={"Content-Type": "application/json"})
            results.append(clear_4xx(r))
        for path in ("/api/v1/nope", "/v1/engines", "/api/v2/ask"):
            results.append(clear_4xx(c.get(path), (404,)))
    return row("bad inputs on every JSON route → clear 4xx", results, "malformed, wrong types, surrogates, oversize")


def chunked_post(base: str, path: str, total: int) -> tuple[int, int]:
    """POST ``total`` bytes chunked over a raw socket, stopping when the server answers: (status, bytes sent)."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sent, piece = 0, b"[" + b"1," * 32767 + b"1"
    try:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        while sent < total and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            except OSError:
                break
            sent += len(piece)
        head = sock.recv(4096).decode("latin-1")
        return (int(head.split(" ", 2)[1]) if head else 0), sent
    finally:
        sock.close()


def probe_oversize(base: str) -> Row:
    results, most = [], 0
    for path in ("/api/v1/ask", "/v1/chat/completions", "/api/v1/feedback", "/gradio_api/queue/join"):
        r = httpx.post(base + path, content=b"{" + b" " * 1_000_000 + b"}",
                       headers={"Content-Type": "application/json"}, timeout=60)
        results.append(r.status_code == 413)
        for total in (10 * 2**20, 100 * 2**20):
            status, sent = chunked_post(base, path, total)
            results.append(status == 413 and sent < total)
            most = max(most, sent)
    return row("oversize bodies (Content-Length, chunked 10/100 MB) → 413", results,
               f"at most {most / 2**20:.1f} MB sent before the 413")


# --- spoofed headers and the web chat's routes -------------------------------------------------------


def probe_headers(base: str, limit: int) -> list[Row]:
    port = base.rsplit(":", 1)[1]
    rows = []
    with httpx.Client(base_url=base, timeout=60) as c:
        codes = [c.post("/api/v1/ask", json={"question": QUESTION},
                        headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(30)]
        rows.append(row(f"rotating X-Forwarded-For (limit {limit}/min)", [s == (200 if i < limit else 429)
                        for i, s in enumerate(codes)], f"{codes.count(200)} answered, {codes.count(429)} × 429"))
        gradio = [c.post("/gradio_api/queue/join", json={"fn_index": 0, "data": [], "session_hash": f"s{i}"})
                  for i in range(5)]
        rows.append(row("web chat events over the shared rate limit → 429", [r.status_code == 429 for r in gradio]))
        hosts = [c.post("/api/v1/ask", json={"question": QUESTION}, headers={"Host": h, "Origin": f"http://{h}"})
                 for h in (f"evil.example:{port}", "evil.example", f"rebind.attacker.test:{port}")]
        hosts += [c.get("/healthz", headers={"Host": "evil.example"})]
        rows.append(row("foreign Host (DNS rebinding) → 400", [clear_4xx(r, (400,)) for r in hosts]))
        origins = [c.post(p, json={}, headers={"Origin": "https://evil.example"})
                   for p in ("/api/v1/ask", "/api/v1/ask/stream", "/v1/chat/completions", "/api/v1/feedback",
                             "/gradio_api/queue/join", "/gradio_api/run/predict")]
        rows.append(row("foreign Origin (API, OpenAI, web chat) → 403", [clear_4xx(r, (403,)) for r in origins]))
        heads = [c.get("/openapi.json"), c.get("/api/v1/nope"), c.get("/")]
        rows.append(row("security headers (CSP, X-Frame-Options)", [
            "frame-ancestors" in r.headers.get("content-security-policy", "") and "x-frame-options" in r.headers
            for r in heads]))
    return rows


# --- rebuilds -------------------------------------------------------------------------------------


def run_index(index_dir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([CLI, "index", "--no-progress", *args], env=env_for(index_dir), cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def probe_rebuild(base: str, index_dir: Path) -> list[Row]:
    before = httpx.get(base + "/readyz").json()["build"]
    codes: list[int] = []
    stop = threading.Event()

    def asks() -> None:  # 5 a second, each on its own schedule so a slow answer does not lower the rate
        with httpx.Client(base_url=base, timeout=60) as c:
            def one(i: int) -> None:
                path = "/api/v1/ask" if i % 2 else "/api/v1/ask/stream"
                try:
                    r = c.post(path, json={"question": QUESTION})
                    codes.append(599 if "event: error" in r.text else r.status_code)  # an error midway
                except httpx.HTTPError:
                    codes.append(-1)
            workers, i = [], 0
            while not stop.is_set():
                t = threading.Thread(target=one, args=(i,))
                t.start()
                workers.append(t)
                i += 1
                time.sleep(0.2)
            for t in workers:
                t.join(60)

    asker = threading.Thread(target=asks)
    asker.start()
    time.sleep(2)
    t0 = time.monotonic()
    proc = run_index(index_dir, "--force")
    proc.communicate(timeout=600)
    build_s = time.monotonic() - t0
    time.sleep(4)  # the server looks every second; the old build's last requests finish
    stop.set()
    asker.join(120)
    after = httpx.get(base + "/readyz").json()["build"]
    rows = [row("asks at 5/s across `park-assistant index --force`", [c == 200 for c in codes],
                f"build {before} → {after} ({'swapped' if after != before else 'NOT swapped'}), index took "
                f"{build_s:.0f} s, exit {proc.returncode}")]
    first, second = run_index(index_dir, "--force"), None
    time.sleep(0.5)
    second = run_index(index_dir, "--force")
    results = [(*p.communicate(timeout=600), p.returncode) for p in (first, second)]
    busy = [r for r in results if r[2] != 0]
    ok = [r for r in results if r[2] == 0]
    held = len(ok) == 1 and len(busy) == 1 and "another `park-assistant index`" in busy[0][1]
    rows.append(row("two concurrent `index --force` runs", [held, held],
                    (busy[0][1].strip().splitlines() or [""])[-1][:90] if busy else "both ran"))
    return rows


# --- a hung model -----------------------------------------------------------------------------------


@contextmanager
def hanging_endpoint() -> Iterator[int]:
    """A TCP server that accepts connections and never answers: a stuck LLM."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(200)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        t.join(2)
        for s in held:
            s.close()
        sock.close()


def probe_hung_model(index_dir: Path) -> list[Row]:
    with hanging_endpoint() as port, server(index_dir, "server-hung", PARK_MODE="llm", PARK_LLM_TIMEOUT="8",
                                            OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1", OPENAI_API_KEY="x",
                                            PARK_RATE_LIMIT="100000") as base:
        answers: list[httpx.Response | None] = []

        def ask() -> None:
            try:
                answers.append(httpx.post(base + "/api/v1/ask", json={"question": QUESTION}, timeout=120))
            except httpx.HTTPError:
                answers.append(None)

        stuck = [threading.Thread(target=ask) for _ in range(45)]
        for t in stuck:
            t.start()
        # Measured once the asks wait on the model (they retrieve first: a CPU-bound second or two on a small
        # machine, which slows everything in the process alike), until before they time out.
        time.sleep(3)
        times = []
        for _ in range(5):
            for path in ("/healthz", "/readyz"):
                t0 = time.monotonic()
                r = httpx.get(base + path, timeout=60)
                times.append((r.status_code == 200, time.monotonic() - t0))
            time.sleep(0.3)
        for t in stuck:
            t.join(180)
    address = f"127.0.0.1:{port}"
    shown = [a for a in answers if a is not None and address in a.text]
    return [row("/healthz and /readyz while 45 asks hang on the model (< 1 s)", [ok and s < 1 for ok, s in times],
                f"slowest {max(s for _, s in times) * 1000:.0f} ms"),
            row("fallback answers do not show the model's address", [
                a is not None and a.status_code == 200 and address not in a.text for a in answers],
                f"{len(shown)} showed {address}")]


# --- main -----------------------------------------------------------------------------------------


def prepare(work: Path) -> Path:
    index_dir = work / "index"
    index_dir.mkdir()
    for name in ("sources", "glossary.tsv", "park_terms.txt", "store"):
        src = ROOT / "index" / name
        if src.is_dir():
            shutil.copytree(src, index_dir / name, ignore=shutil.ignore_patterns("leases", "build.lock"))
        elif src.exists():
            shutil.copy2(src, index_dir / name)
    if not (index_dir / "store" / "current.json").exists():
        subprocess.run([CLI, "index", "--no-progress"], env=env_for(index_dir), cwd=ROOT, check=True)
    return index_dir


def render(rows: list[Row]) -> str:
    lines = ["| fault | tried | held | failed | note |", "|---|---|---|---|---|"]
    lines += [f"| {r['fault']} | {r['tried']} | {r['held']} | {r['failed']} | {r['note']} |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    t0 = time.monotonic()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="park-faults-") as tmp:
        index_dir = prepare(Path(tmp))
        steps: list[Callable[[], list[Row]]] = []
        with server(index_dir, "server-open", PARK_RATE_LIMIT="100000") as base:
            steps = [lambda: [probe_bad_inputs(base)], lambda: [probe_oversize(base)],
                     lambda: probe_rebuild(base, index_dir)]
            for step in steps:
                rows += step()
                print(render(rows[-1:]).splitlines()[-1], flush=True)
        with server(index_dir, "server-limited", PARK_RATE_LIMIT="5") as base:
            rows += probe_headers(base, 5)
        rows += probe_hung_model(index_dir)
    table = render(rows)
    print("\n" + table + f"\n\n{sum(r['failed'] for r in rows)} failed in {time.monotonic() - t0:.0f} s")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "faults.md").write_text(table + "\n", encoding="utf-8")
    (OUT / "faults.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return 1 if any(r["failed"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
