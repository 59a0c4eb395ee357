"""The benchmark's one table: rows of (metric, scale, ours, baseline, ratio, target, met, note), as Markdown."""

from __future__ import annotations

from typing import Any

TARGETS = {  # (metric key, scale) → (limit, text); all "lower is better"
    ("retrieval_p95", "10000"): (30.0, "p95 ≤ 30 ms"),
    ("retrieval_p95", "100000"): (100.0, "p95 ≤ 100 ms"),
    ("filter_p95", "100000"): (30.0, "p95 ≤ 30 ms"),
    ("answer_p95", "10000"): (150.0, "p95 ≤ 150 ms"),
    ("cold_start", ""): (5.0, "≤ 5 s"),
    ("server_errors", ""): (0.0, "0 errors"),
}

#: The filters the 30 ms target is for (issue: status, scope and document filters at 100k chunks).
FILTER_TARGETED = ("status", "scope", "document", "status+scope")


def _get(d: Any, *keys: Any) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _ratio(a: Any, b: Any) -> str:
    try:
        return f"{float(a) / float(b):.2f}x" if a is not None and b else ""
    except (TypeError, ValueError):
        return ""


def _lat(p: Any) -> str:
    return "" if not p or p.get("p50") is None else f"{p['p50']:.1f} / {p['p95']:.1f} / {p['p99']:.1f}"


def _err(d: Any) -> str:
    return f"ERROR: {str(d['error']).strip().splitlines()[-1][:120]}" if isinstance(d, dict) and "error" in d else ""


def _row(
    metric: str,
    scale: str,
    ours: Any,
    baseline: Any = "",
    ratio: str = "",
    note: str = "",
    target: tuple[str, float, float | None] | None = None,
) -> dict[str, Any]:
    row = {
        "metric": metric,
        "scale": scale,
        "ours": ours,
        "baseline": baseline,
        "ratio": ratio,
        "target": "",
        "met": "",
        "note": note,
    }
    if target is not None:
        text, limit, value = target
        row["target"] = text
        row["met"] = "n/a" if value is None else ("met" if value <= limit else "NOT met")
    return row


def _target(key: str, scale: str, value: Any) -> tuple[str, float, float | None] | None:
    if (key, scale) not in TARGETS:
        return None
    limit, text = TARGETS[(key, scale)]
    return text, limit, None if value is None else float(value)


def rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The table rows from a results dict (missing parts become empty cells or an ERROR note)."""
    out: list[dict[str, Any]] = []
    b = res.get("build", {})
    o, lc = b.get("ours_real", {}), b.get("lc_real", {})
    corpus = f"shipped ({o.get('chunks', '?')} / {lc.get('chunks', '?')} chunks)"
    out.append(
        _row(
            "index build, real e5 (s)",
            corpus,
            o.get("seconds"),
            lc.get("seconds"),
            _ratio(o.get("seconds"), lc.get("seconds")),
            _err(o)
            or _err(lc)
            or f"ours {o.get('timings_s')}; model load excluded "
            f"({o.get('model_load_s')} s); baseline = RecursiveCharacterTextSplitter() defaults, "
            f"mean {lc.get('mean_chars')} chars/chunk",
        )
    )
    out.append(
        _row(
            "index build throughput (chunks/s)",
            corpus,
            o.get("chunks_per_s"),
            lc.get("chunks_per_s"),
            _ratio(o.get("chunks_per_s"), lc.get("chunks_per_s")),
            "chunks differ in size: compare seconds",
        )
    )
    out.append(
        _row(
            "index build peak RSS (MiB)",
            corpus,
            o.get("vmhwm_mib"),
            lc.get("vmhwm_mib"),
            _ratio(o.get("vmhwm_mib"), lc.get("vmhwm_mib")),
        )
    )
    ow, lw = b.get("ours_write", {}), b.get("lc_write", {})
    out.append(
        _row(
            "write path, precomputed vectors (s)",
            corpus,
            ow.get("seconds"),
            lw.get("seconds"),
            _ratio(ow.get("seconds"), lw.get("seconds")),
            _err(ow) or _err(lw) or f"ours: ingest+chunk+BM25+chroma {ow.get('timings_s')}",
        )
    )
    out.append(
        _row(
            "write path peak RSS (MiB)",
            corpus,
            ow.get("vmhwm_mib"),
            lw.get("vmhwm_mib"),
            _ratio(ow.get("vmhwm_mib"), lw.get("vmhwm_mib")),
        )
    )

    q = res.get("quality", {})
    if "ours" in q:
        for tag, label in (("lc_default", "defaults (4000 chars)"), ("lc_small", "chunk_size=220, overlap 22")):
            if tag in q:
                out.append(
                    _row(
                        f"recall@5 of evidence, dev set (baseline: {label})",
                        f"shipped, {q['ours']['questions']} questions",
                        q["ours"]["recall_at_5"],
                        q[tag]["recall_at_5"],
                        _ratio(q["ours"]["recall_at_5"], q[tag]["recall_at_5"]),
                        f"mean top-5 context: ours {q['ours']['mean_context_chars']} chars, baseline "
                        f"{q[tag]['mean_context_chars']} chars",
                    )
                )
    elif q:
        out.append(_row("recall@5 of evidence", "shipped", _err(q)))

    p = res.get("prep", {})
    out.append(
        _row(
            "query embedding alone p50 / p95 / p99 (ms)",
            "1 question",
            _lat(p.get("query_embed_ms")),
            "same embedder",
            "1.00x",
            f"{p.get('embedder')} via {p.get('engine')}; excluded from the retrieval rows below",
        )
    )

    for n, s in res.get("scale", {}).items():
        scale = f"{int(n):,} chunks"
        ow, lw = s.get("ours_write", {}), s.get("lc_write", {})
        out.append(
            _row(
                "write, precomputed vectors (chunks/s)",
                scale,
                ow.get("chunks_per_s"),
                lw.get("chunks_per_s"),
                _ratio(ow.get("chunks_per_s"), lw.get("chunks_per_s")),
                _err(ow)
                or _err(lw)
                or f"ours {ow.get('timings_s')}; store {ow.get('store_mib')} MiB vs {lw.get('store_mib')} MiB",
            )
        )
        out.append(
            _row(
                "write peak RSS (MiB)",
                scale,
                ow.get("vmhwm_mib"),
                lw.get("vmhwm_mib"),
                _ratio(ow.get("vmhwm_mib"), lw.get("vmhwm_mib")),
            )
        )
        orr, lr = s.get("ours_retrieve", {}), s.get("lc_retrieve", {})
        p95 = _get(orr, "latency_ms", "p95")
        out.append(
            _row(
                "retrieval p50 / p95 / p99 (ms), embedding excluded",
                scale,
                _lat(orr.get("latency_ms")),
                _lat(lr.get("latency_ms")),
                _ratio(p95, _get(lr, "latency_ms", "p95")),
                _err(orr) or _err(lr) or f"ours median parts {orr.get('median_parts_ms')}",
                _target("retrieval_p95", n, p95),
            )
        )
        for name, f in (orr.get("filters") or {}).items():
            if name == "none":
                continue
            out.append(
                _row(
                    f"retrieval with a {name} filter p50 / p95 / p99 (ms)",
                    scale,
                    _lat(f.get("latency_ms")),
                    "",
                    "",
                    f"keeps {f.get('kept')} chunks; CPU p50 / p95 {_get(f, 'cpu_ms', 'p50')} / "
                    f"{_get(f, 'cpu_ms', 'p95')} ms; dense side p50 {f.get('dense_p50_ms')} ms (mask included)",
                    _target("filter_p95", n, _get(f, "latency_ms", "p95")) if name.split()[0] in FILTER_TARGETED
                    else None,
                )
            )
        out.append(
            _row(
                "serving RSS after index load (MiB) / peak",
                scale,
                f"{orr.get('rss_after_load_mib')} / {orr.get('vmhwm_mib')}",
                f"— / {lr.get('vmhwm_mib')}",
                "",
                f"index load {orr.get('load_s')} s vs {lr.get('load_s')} s",
            )
        )
        for key, label in (
            ("answer_precomputed", "extractive answer p50 / p95 / p99 (ms), embedding excluded"),
            ("answer_real", "extractive answer p50 / p95 / p99 (ms), total with real e5"),
        ):
            a = s.get(key)
            if a is None:
                continue
            p95 = _get(a, "latency_ms", "p95")
            out.append(
                _row(
                    label,
                    scale,
                    _lat(a.get("latency_ms")),
                    "n/a (no answerer)",
                    "",
                    _err(a)
                    or f"median parts {a.get('median_parts_ms')}; answered {a.get('answered')}, "
                    f"declined {a.get('declined')}",
                    _target("answer_p95", n, p95) if key == "answer_precomputed" else None,
                )
            )

    c = res.get("cold", {})
    co, cl = _get(c, "ours", "median") or {}, _get(c, "lc", "median") or {}
    out.append(
        _row(
            "cold start to first answer (s)",
            "shipped index",
            co.get("total_s"),
            cl.get("total_s"),
            _ratio(co.get("total_s"), cl.get("total_s")),
            _err(c.get("ours"))
            or f"ours: interpreter {co.get('interpreter_s')} + imports {co.get('imports_s')} "
            f"+ build {co.get('build_s')} + first answer {co.get('first_answer_s')} s (median of "
            f"{_get(c, 'ours', 'runs')}); baseline = to first similarity_search result",
            _target("cold_start", "", co.get("total_s")),
        )
    )

    sv = res.get("server", {})
    scale = f"{sv.get('clients', 50)} clients, {sv.get('requests', '?')} requests"
    out.append(
        _row(
            "server POST /api/v1/ask (requests/s)",
            scale,
            sv.get("requests_per_s"),
            "n/a",
            "",
            _err(sv)
            or f"rate limit raised to {sv.get('rate_limit')}/min; server peak RSS "
            f"{_get(sv, 'server', 'vmhwm_mib')} MiB",
        )
    )
    out.append(_row("server latency p50 / p95 / p99 (ms)", scale, _lat(sv.get("latency_ms")), "n/a"))
    out.append(
        _row(
            "server errors",
            scale,
            sv.get("errors"),
            "n/a",
            "",
            str(sv.get("errors_by_status") or ""),
            _target("server_errors", "", sv.get("errors")),
        )
    )
    return out


def markdown(res: dict[str, Any]) -> str:
    """The table with a header describing the machine and the run."""
    m = res.get("machine", {})
    head = (
        f"# Benchmark — ours vs plain LangChain + Chroma\n\n"
        f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('ram_gib')} GiB RAM, Python {m.get('python')}; "
        f"load average at start {m.get('loadavg')}, at end {m.get('loadavg_end')} (other work was running).  \n"
        f"Run: {res.get('started')}, sizes {res.get('sizes')}, quick={res.get('quick')}, "
        f"{res.get('seconds')} s. Ratio = ours / baseline. Method: bench/README.md.\n\n"
    )
    cols = ("metric", "scale", "ours", "baseline", "ratio", "target", "met", "note")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in res.get("table") or rows(res):
        lines.append("| " + " | ".join(str(r[c] if r[c] is not None else "").replace("|", "/") for c in cols) + " |")
    return head + "\n".join(lines) + "\n"
