"""Evaluation reports: ``summary.json``, ``report.md`` and one self-contained ``report.html``.

The HTML file needs nothing beside it: CSS is inline and the charts are base64 PNGs drawn by matplotlib
(Agg, no display). Chinese labels use Noto Sans CJK when it is installed under ``/usr/share/fonts`` and fall
back to matplotlib's default font (boxes for Han characters, but no failure) when it is not. Every piece of
text from questions, answers and sources is HTML-escaped.

With a previous run (``--compare``) the reports open with a diff that lists regressions first: metrics that
got worse, then questions whose outcome went from pass to fail; improvements follow.

>>> paths = write_report("eval-out/run2", summary, load_results("eval-out/run2"),
...                      previous="eval-out/run1")                      # doctest: +SKIP
>>> paths["html"]                                                       # doctest: +SKIP
PosixPath('eval-out/run2/report.html')
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any

from assistant.errors import InputError
from assistant.evaluation.evaluate import (
    CHECKS,
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    load_results,
    question_checks,
    question_passed,
)

#: Headline metrics, in display order, with a one-line explanation.
HEADLINE: dict[str, str] = {
    "recall_at_1": "evidence in the top passage", "recall_at_3": "evidence in the top 3 passages",
    "recall_at_5": "evidence in the top 5 passages", "mrr": "mean reciprocal rank of the first evidence passage",
    "fact_coverage": "answers containing every expected fact",
    "citation_precision": "answers whose cited passages contain evidence",
    "citation_passage_precision": "citations whose passage contains evidence (mean per answer; a lower bound)",
    "citation_recall": "evidence strings found in the cited passages (mean per answer)",
    "faithfulness": "answer claims supported by the retrieved passages (LLM judge)",
    "answer_correctness": "claim F1 against the facts + similarity (LLM judge)",
    "decline_accuracy": "unanswerable questions declined",
    "false_decline_rate": "answerable questions wrongly declined",
    "forbidden_violations": "answers containing a forbidden string (count)",
    "errors": "questions where the assistant raised (count)",
    "latency_p50_ms": "median answer time", "latency_p95_ms": "95th percentile answer time",
    "prompt_tokens": "prompt tokens, all questions", "completion_tokens": "completion tokens, all questions",
    "cost_usd": "estimated cost at the configured prices",
}
TABLE_METRICS = ("recall_at_5", "mrr", "fact_coverage", "citation_precision", "citation_passage_precision",
                 "decline_accuracy",
                 "false_decline_rate", "forbidden_violations", "latency_p50_ms", "latency_p95_ms")
_SHORT = {"recall_at_5": "R@5", "mrr": "MRR", "fact_coverage": "facts", "citation_precision": "cite P",
          "citation_recall": "cite R", "citation_passage_precision": "cite P/psg", "decline_accuracy": "decline",
          "false_decline_rate": "false decl",
          "false_decline": "false decl", "forbidden_violations": "forbidden", "forbidden_violation": "forbidden",
          "latency_p50_ms": "p50 ms", "latency_p95_ms": "p95 ms", "error": "no error"}
CHART_METRICS = ("recall_at_5", "fact_coverage", "citation_precision", "decline_accuracy")
#: Latency moves with machine load: a change counts in a comparison only beyond this fraction and this many ms.
LATENCY_TOLERANCE = (0.10, 50.0)


@dataclass(frozen=True)
class MetricChange:
    name: str
    before: float
    after: float

    @property
    def delta(self) -> float:
        return self.after - self.before

    @property
    def worse(self) -> bool:
        return self.delta < 0 if self.name in HIGHER_IS_BETTER else self.delta > 0


@dataclass(frozen=True)
class QuestionChange:
    id: str
    question: str
    lang: str
    passed_before: bool
    passed_after: bool
    flipped: tuple[str, ...]  # checks that changed, e.g. ("fact_coverage", "false_decline")
    answer_before: str
    answer_after: str


@dataclass(frozen=True)
class Comparison:
    """What changed between a previous run and this one."""

    previous: str
    metrics: tuple[MetricChange, ...] = ()
    questions: tuple[QuestionChange, ...] = ()
    only_before: tuple[str, ...] = field(default=())
    only_after: tuple[str, ...] = field(default=())

    @property
    def metric_regressions(self) -> list[MetricChange]:
        return [m for m in self.metrics if m.worse]

    @property
    def metric_improvements(self) -> list[MetricChange]:
        return [m for m in self.metrics if not m.worse]

    @property
    def question_regressions(self) -> list[QuestionChange]:
        return [q for q in self.questions if q.passed_before and not q.passed_after]

    @property
    def question_improvements(self) -> list[QuestionChange]:
        return [q for q in self.questions if not q.passed_before and q.passed_after]


def compare_runs(summary: Mapping[str, Any], records: Sequence[Mapping[str, Any]], previous: str | Path) -> Comparison:
    """Compare this run with the run in folder ``previous`` (its ``summary.json`` and ``results.jsonl``)."""
    prev_dir = Path(previous)
    try:
        prev_summary = json.loads((prev_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise InputError(f"no readable summary.json in {prev_dir} — pass the --out folder of an earlier "
                         "`park-assistant eval` run") from None
    before, after = prev_summary.get("overall", {}), summary["overall"]
    metrics = []
    for name in HIGHER_IS_BETTER + LOWER_IS_BETTER:
        b, a = before.get(name), after.get(name)
        if b is None or a is None or abs(a - b) < 1e-9:
            continue
        if name.startswith("latency") and abs(a - b) <= max(LATENCY_TOLERANCE[0] * b, LATENCY_TOLERANCE[1]):
            continue
        metrics.append(MetricChange(name, float(b), float(a)))
    old = {r["id"]: r for r in load_results(prev_dir)}
    changes = []
    for rec in records:
        prev = old.get(rec["id"])
        if prev is None:
            continue
        checks_b, checks_a = question_checks(prev), question_checks(rec)
        flipped = tuple(c for c in checks_a if c in checks_b and checks_a[c] != checks_b[c])
        pb, pa = question_passed(prev), question_passed(rec)
        if pb != pa:
            changes.append(QuestionChange(rec["id"], rec["question"], rec["lang"], pb, pa, flipped,
                                          prev.get("answer") or "", rec.get("answer") or ""))
    ids = {r["id"] for r in records}
    return Comparison(str(prev_dir), tuple(sorted(metrics, key=lambda m: -abs(m.delta))), tuple(changes),
                      tuple(i for i in old if i not in ids), tuple(i for i in ids if i not in old))


# --- text output -----------------------------------------------------------------------------------------

def fmt(name: str, value: Any) -> str:
    """A metric value for people: rates as percentages, latency in ms, cost in USD, ``—`` when not measured."""
    if value is None:
        return "—"
    if name.startswith("latency"):
        return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"
    if name == "mrr":
        return f"{value:.3f}"
    if name == "cost_usd":
        return f"${value:.4f}"
    if isinstance(value, int) or name.endswith(("tokens", "violations", "errors")) or name in ("n", "errors"):
        return f"{int(value):,}"
    return f"{100 * value:.1f}%"


def format_table(summary: Mapping[str, Any], metrics: Sequence[str] = TABLE_METRICS) -> str:
    """A plain-text table: overall, each language and each split (with questions), one column per metric."""
    rows = [("overall", summary["overall"])] + [(lang, agg) for lang, agg in summary["by_lang"].items() if agg["n"]]
    rows += [(f"split {name}", agg) for name, agg in summary.get("by_split", {}).items() if agg["n"]]
    header = ["", "n", *(_SHORT.get(m, m) for m in metrics)]
    body = [[name, str(agg["n"]), *(fmt(m, agg.get(m)) for m in metrics)] for name, agg in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in [header, *body]]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    return ["| " + " | ".join(map(cell, header)) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(map(cell, r)) + " |" for r in rows)]


def render_markdown(summary: Mapping[str, Any], comparison: Comparison | None = None) -> str:
    """A short Markdown summary: headline metrics, by language, and the comparison's regressions first."""
    meta, overall = summary["meta"], summary["overall"]
    out = ["# Evaluation report", "",
           f"{meta.get('n')} questions from `{meta.get('questions_file')}` · mode {meta.get('mode')} · "
           f"model {meta.get('model') or '—'} · started {meta.get('started')} · {meta.get('duration_s')} s", ""]
    if comparison is not None:
        out += [f"## Compared with `{comparison.previous}`", "", "### Regressions", ""]
        out += [f"- **{m.name}** {fmt(m.name, m.before)} → {fmt(m.name, m.after)}"
                for m in comparison.metric_regressions]
        out += [f"- question `{q.id}` now fails ({', '.join(q.flipped) or 'outcome'}): {q.question}"
                for q in comparison.question_regressions]
        if not comparison.metric_regressions and not comparison.question_regressions:
            out.append("- none")
        out += ["", "### Improvements", ""]
        out += [f"- **{m.name}** {fmt(m.name, m.before)} → {fmt(m.name, m.after)}"
                for m in comparison.metric_improvements]
        out += [f"- question `{q.id}` now passes: {q.question}" for q in comparison.question_improvements]
        if not comparison.metric_improvements and not comparison.question_improvements:
            out.append("- none")
        out.append("")
    out += ["## Headline", ""]
    out += _md_table(["metric", "value", "meaning"],
                     [[m, fmt(m, overall.get(m)), d] for m, d in HEADLINE.items() if m in overall])
    langs = [(lang, agg) for lang, agg in summary["by_lang"].items() if agg["n"]]
    out += ["", "## By language", ""]
    out += _md_table(["lang", "n", *TABLE_METRICS], [[lang, str(a["n"]), *(fmt(m, a.get(m)) for m in TABLE_METRICS)]
                                                     for lang, a in langs])
    splits = [(name, agg) for name, agg in summary.get("by_split", {}).items() if agg["n"]]
    if splits:
        out += ["", "## By split", ""]
        out += _md_table(["split", "n", *TABLE_METRICS],
                         [[name, str(a["n"]), *(fmt(m, a.get(m)) for m in TABLE_METRICS)] for name, a in splits])
    out += ["", "Full report: `report.html`; every answer: `results.jsonl`.", ""]
    return "\n".join(out)


# --- charts ----------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _cjk_font() -> str | None:
    """Register Noto Sans CJK with matplotlib (once); ``None`` when it is not installed."""
    from matplotlib import font_manager

    roots = [Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".local/share/fonts"]
    for root in roots:
        candidates = sorted(root.glob("**/NotoSansCJK*-Regular.tt[cf]")) + sorted(root.glob("**/NotoSansCJK*.tt[cf]"))
        for path in candidates:
            try:
                font_manager.fontManager.addfont(str(path))
                return str(font_manager.FontProperties(fname=str(path)).get_name())
            except (OSError, RuntimeError):
                continue
    return None


def _png(draw: Any, size: tuple[float, float]) -> str:
    """Draw on a fresh Agg figure (no pyplot global state, so safe in any thread) → base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    font = _cjk_font()
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    with matplotlib.rc_context({"font.family": family, "axes.spines.top": False, "axes.spines.right": False}):
        fig = Figure(figsize=size, dpi=100, layout="constrained")
        draw(fig.add_subplot())
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _bar_chart(groups: Mapping[str, Mapping[str, Any]], title: str) -> str | None:
    names = [g for g, agg in groups.items() if agg["n"]]
    if not names:
        return None

    def draw(ax: Any) -> None:
        width = 0.8 / len(CHART_METRICS)
        for i, metric in enumerate(CHART_METRICS):
            values = [groups[g].get(metric) for g in names]
            xs = [j + (i - (len(CHART_METRICS) - 1) / 2) * width for j in range(len(names))]
            heights = [float("nan") if v is None else 100 * v for v in values]
            ax.bar(xs, heights, width, label=_SHORT.get(metric, metric))
        ax.set_xticks(range(len(names)), [f"{g}\n(n={groups[g]['n']})" for g in names])
        ax.set_ylim(0, 105)
        ax.set_ylabel("%")
        ax.set_title(title)
        ax.legend(ncols=len(CHART_METRICS), fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.18))

    return _png(draw, (max(6.0, 1.3 * len(names) + 2), 4.2))


def _latency_chart(records: Sequence[Mapping[str, Any]]) -> str | None:
    latencies = [r["latency_ms"] for r in records if r.get("latency_ms") is not None]
    if not latencies:
        return None

    def draw(ax: Any) -> None:
        ax.hist(latencies, bins=min(30, max(5, len(latencies) // 2)), color="#4c72b0")
        ax.set_xlabel("answer latency (ms)")
        ax.set_ylabel("questions")
        ax.set_title("Latency")

    return _png(draw, (6.0, 3.2))


# --- HTML ------------------------------------------------------------------------------------------------

_CSS = """
body{font-family:"Noto Sans CJK SC","Noto Sans",system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222;
padding:0 1rem}h1{margin-bottom:.2rem}.meta{color:#666}table{border-collapse:collapse;margin:.6rem 0 1.2rem}
th,td{border:1px solid #ddd;padding:.3rem .5rem;vertical-align:top;text-align:left}th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}.pass{color:#17803d}.fail{color:#c62828;font-weight:600}
.na{color:#aaa}tr.failed{background:#fff5f5}section.diff{border:2px solid #c62828;padding:.5rem 1rem;margin:1rem 0}
h3.regressions{color:#c62828}h3.improvements{color:#17803d}img{max-width:100%}.excerpt{max-width:28rem}
ul.quotes{margin:0;padding-left:1.1rem;font-size:.9em;color:#444}.err{color:#c62828;font-family:monospace}
"""


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw`` (then the caller has escaped them)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c if raw else _e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(b64: str | None, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{b64}">' if b64 else f"<p class=na>{_e(alt)}: no data</p>"


def _group_table(groups: Mapping[str, Mapping[str, Any]], label: str) -> str:
    metrics = [m for m in HEADLINE if any(g.get(m) is not None for g in groups.values())]
    rows = [[_e(name), f"<span class=num>{g['n']}</span>", *(_e(fmt(m, g.get(m))) for m in metrics)]
            for name, g in groups.items() if g["n"]]
    return _table([label, "n", *(_SHORT.get(m, m) for m in metrics)], rows, raw=True)


def _diff_section(c: Comparison) -> str:
    def metric_rows(changes: Sequence[MetricChange]) -> list[list[str]]:
        return [[m.name, fmt(m.name, m.before), fmt(m.name, m.after),
                 f"{m.delta:+.4g}" if not m.name.startswith("latency") else f"{m.delta:+,.0f} ms"] for m in changes]

    def question_rows(changes: Sequence[QuestionChange]) -> list[list[str]]:
        return [[q.id, q.lang, q.question, ", ".join(q.flipped) or "outcome", q.answer_before[:160],
                 q.answer_after[:160]] for q in changes]

    qhead = ["id", "lang", "question", "checks changed", "answer before", "answer now"]
    parts = [f"<section class=diff id=compare><h2>Compared with {_e(c.previous)}</h2>"]
    # Regressions first: they are what a reader of a comparison is looking for.
    for kind, title, metrics, questions, lead in (
        ("regressions", "Regressions", c.metric_regressions, c.question_regressions,
         "Questions that passed before and fail now:"),
        ("improvements", "Improvements", c.metric_improvements, c.question_improvements,
         "Questions that failed before and pass now:"),
    ):
        parts.append(f"<h3 class={kind}>{title}</h3>")
        if metrics:
            parts.append(_table(["metric", "before", "now", "change"], metric_rows(metrics)))
        if questions:
            parts.append(f"<p>{lead}</p>")
            parts.append(_table(qhead, question_rows(questions)))
        if not metrics and not questions:
            parts.append("<p>None.</p>")
    if c.only_before or c.only_after:
        parts.append(f"<p class=meta>Only in the previous run: {_e(', '.join(c.only_before) or '—')}; "
                     f"only in this run: {_e(', '.join(c.only_after) or '—')}.</p>")
    return "".join(parts) + "</section>"


def _question_rows(records: Sequence[Mapping[str, Any]]) -> str:
    checks = [*CHECKS, "error"]
    head = "".join(f"<th>{_e(h)}</th>" for h in ["id", "lang", "category", "question",
                                                  *(_SHORT.get(c, c) for c in checks), "answer", "cited quotes"])
    rows = []
    for r in records:
        status = question_checks(r)
        cells = [f"<td>{_e(r['id'])}</td>", f"<td>{_e(r['lang'])}</td>", f"<td>{_e(r['category'])}</td>"]
        history = "".join(f"<div class=na>{_e(t['role'])}: {_e(t['content'])}</div>" for t in r.get("history", []))
        cells.append(f"<td>{history}{_e(r['question'])}</td>")
        for c in checks:
            ok = status.get(c)
            cells.append("<td class=na>—</td>" if ok is None else
                         f"<td class={'pass' if ok else 'fail'}>{'✓' if ok else '✗'}</td>")
        answer = str(r.get("answer") or "")
        excerpt = _e(answer[:300] + ("…" if len(answer) > 300 else ""))
        if r.get("error"):
            excerpt += f"<div class=err>{_e(r['error'])}</div>"
        cells.append(f"<td class=excerpt>{excerpt}</td>")
        quotes = "".join(f"<li class={'pass' if c.get('hit') else 'na'}>[{_e(c['n'])}] {_e(c['quote'][:200])}</li>"
                         for c in r.get("citations", []))
        cells.append(f"<td><ul class=quotes>{quotes}</ul></td>")
        rows.append(f"<tr class={'passed' if question_passed(r) else 'failed'}>{''.join(cells)}</tr>")
    return f"<table id=questions><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_html(summary: Mapping[str, Any], records: Sequence[Mapping[str, Any]],
                comparison: Comparison | None = None) -> str:
    """The whole report as one self-contained HTML page."""
    meta, overall = summary["meta"], summary["overall"]
    headline = _table(["metric", "value", "meaning"],
                      [[m, fmt(m, overall.get(m)), d] for m, d in HEADLINE.items() if m in overall])
    failed = sum(1 for r in records if not question_passed(r))
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Evaluation report</title>",
        f"<style>{_CSS}</style></head><body><h1>Evaluation report</h1>",
        f"<p class=meta>{_e(meta.get('n'))} questions from <code>{_e(meta.get('questions_file'))}</code> · "
        f"({overall['n_answerable']} answerable, {overall['n_unanswerable']} not) · mode {_e(meta.get('mode'))} · "
        f"model {_e(meta.get('model') or '—')} · k={_e(meta.get('k'))} · "
        f"started {_e(meta.get('started'))} · {_e(meta.get('duration_s'))} s · "
        f"{failed} of {len(records)} questions fail</p>",
        "<h2>Headline</h2>", headline,
    ]
    if comparison is not None:
        parts.append(_diff_section(comparison))
    parts += [
        "<h2>By language</h2>", _group_table(summary["by_lang"], "language"),
        _img(_bar_chart(summary["by_lang"], "By language"), "metrics by language chart"),
        *(["<h2>By split</h2>", _group_table(summary["by_split"], "split")] if summary.get("by_split") else []),
        "<h2>By category</h2>", _group_table(summary["by_category"], "category"),
        _img(_bar_chart(summary["by_category"], "By category"), "metrics by category chart"),
        "<h2>Latency</h2>", _img(_latency_chart(records), "latency histogram"),
        "<h2>Questions</h2>", _question_rows(records),
        "<p class=meta>✓ pass · ✗ fail · — not applicable. A question fails when any check other than "
        "R@5 fails. Quotes in green cite a passage with evidence.</p></body></html>",
    ]
    return "\n".join(parts)


def write_report(out_dir: str | Path, summary: Mapping[str, Any], records: Sequence[Mapping[str, Any]], *,
                 previous: str | Path | None = None) -> dict[str, Path]:
    """Write ``summary.json``, ``report.md`` and ``report.html`` into ``out_dir``; return their paths.

    With ``previous`` (the folder of an earlier run) both reports open with the comparison.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    comparison = compare_runs(summary, records, previous) if previous is not None else None
    paths = {"summary": out / "summary.json", "markdown": out / "report.md", "html": out / "report.html"}
    paths["summary"].write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    paths["markdown"].write_text(render_markdown(summary, comparison), encoding="utf-8")
    paths["html"].write_text(render_html(summary, records, comparison), encoding="utf-8")
    return paths
