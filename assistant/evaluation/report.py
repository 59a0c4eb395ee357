"""Evaluation reports: ``summary.json``, ``report.md`` and one self-contained ``report.html``.

The HTML file needs nothing beside it (see :mod:`assistant.evaluation.report_html` for the page and
:mod:`assistant.evaluation.report_charts` for the charts). Both reports put failures first, always: the failing
questions with the checks they failed, and, with a previous run (``--compare``), the regressions before
the improvements. Token counts and cost are shown only for runs where a language model answered or judged.

>>> paths = write_report("eval-out/run2", summary, load_results("eval-out/run2"),
...                      previous="eval-out/run1")                      # doctest: +SKIP
>>> paths["html"]                                                       # doctest: +SKIP
PosixPath('eval-out/run2/report.html')
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import InputError
from assistant.evaluation.evaluate import (
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    load_results,
    question_checks,
    question_passed,
)
from assistant.evaluation.report_html import (
    CSS,
    MODEL_ONLY,
    charts_section,
    e,
    questions_section,
    table,
    used_model,
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
    table = [lines[0], "-" * len(lines[0]), *lines[1:]]
    overall = summary["overall"]
    if overall.get("judge_n"):
        r = overall.get("judge_correlation")
        table += ["", f"judge vs fact coverage: the judge's answer_correctness (≥ 0.5 = right) agrees with fact "
                      f"coverage on {overall['judge_agreement']:.1%} of {overall['judge_n']} judged answers; "
                      f"Pearson r {'—' if r is None else f'{r:.2f}'}"]
    return "\n".join(table)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    return ["| " + " | ".join(map(cell, header)) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(map(cell, r)) + " |" for r in rows)]


def render_markdown(summary: Mapping[str, Any], records: Sequence[Mapping[str, Any]] = (),
                    comparison: Comparison | None = None) -> str:
    """A short Markdown summary: the comparison's regressions and the failing questions first, then the metrics."""
    meta = summary["meta"]
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
    failing = [r for r in records if not question_passed(r)]
    out += [f"## Failing questions ({len(failing)} of {len(records)})", ""]
    out += [f"- `{r['id']}` ({r['lang']}, {r['category']}) fails "
            f"{', '.join(c for c, ok in question_checks(r).items() if not ok and c != 'recall_at_5')}: "
            f"{r['question']}" for r in failing] or ["- none"]
    out += ["", "## Headline", ""]
    out += _md_table(["metric", "value", "meaning"], headline_rows(summary))
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


# --- HTML ------------------------------------------------------------------------------------------------


def headline_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    """(metric, value, meaning) for the headline table; token counts and cost only when a model was used."""
    overall, model = summary["overall"], used_model(summary["meta"])
    return [[m, fmt(m, overall.get(m)), d] for m, d in HEADLINE.items()
            if m in overall and (model or m not in MODEL_ONLY)]


def _group_table(groups: Mapping[str, Mapping[str, Any]], label: str, model: bool) -> str:
    metrics = [m for m in HEADLINE if any(g.get(m) is not None for g in groups.values())
               and (model or m not in MODEL_ONLY)]
    rows = [[e(name), f"<span class=num>{g['n']}</span>", *(e(fmt(m, g.get(m))) for m in metrics)]
            for name, g in groups.items() if g["n"]]
    return table([label, "n", *(_SHORT.get(m, m) for m in metrics)], rows, raw=True)


def _diff_section(c: Comparison) -> str:
    def metric_rows(changes: Sequence[MetricChange]) -> list[list[str]]:
        return [[m.name, fmt(m.name, m.before), fmt(m.name, m.after),
                 f"{m.delta:+.4g}" if not m.name.startswith("latency") else f"{m.delta:+,.0f} ms"] for m in changes]

    def question_rows(changes: Sequence[QuestionChange]) -> list[list[str]]:
        return [[q.id, q.lang, q.question, ", ".join(q.flipped) or "outcome", q.answer_before[:160],
                 q.answer_after[:160]] for q in changes]

    qhead = ["id", "lang", "question", "checks changed", "answer before", "answer now"]
    parts = [f"<section class=diff id=compare><h2>Compared with {e(c.previous)}</h2>"]
    # Regressions first: they are what a reader of a comparison is looking for.
    for kind, title, metrics, questions, lead in (
        ("regressions", "Regressions", c.metric_regressions, c.question_regressions,
         "Questions that passed before and fail now:"),
        ("improvements", "Improvements", c.metric_improvements, c.question_improvements,
         "Questions that failed before and pass now:"),
    ):
        parts.append(f"<h3 class={kind}>{title}</h3>")
        if metrics:
            parts.append(table(["metric", "before", "now", "change"], metric_rows(metrics)))
        if questions:
            parts.append(f"<p>{lead}</p>")
            parts.append(table(qhead, question_rows(questions)))
        if not metrics and not questions:
            parts.append("<p>None.</p>")
    if c.only_before or c.only_after:
        parts.append(f"<p class=meta>Only in the previous run: {e(', '.join(c.only_before) or '—')}; "
                     f"only in this run: {e(', '.join(c.only_after) or '—')}.</p>")
    return "".join(parts) + "</section>"


def render_html(summary: Mapping[str, Any], records: Sequence[Mapping[str, Any]],
                comparison: Comparison | None = None) -> str:
    """The whole report as one self-contained HTML page: what failed first, then the numbers, then every question."""
    meta, overall = summary["meta"], summary["overall"]
    model = used_model(meta)
    failed = sum(1 for r in records if not question_passed(r))
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'><title>Evaluation report</title>",
        f"<style>{CSS}</style></head><body><h1>Evaluation report</h1>",
        f"<p class=meta>{e(meta.get('n'))} questions from <code>{e(meta.get('questions_file'))}</code> "
        f"({overall['n_answerable']} answerable, {overall['n_unanswerable']} not) · mode {e(meta.get('mode'))} · "
        f"model {e(meta.get('model') or '—')} · k={e(meta.get('k'))} · "
        f"started {e(meta.get('started'))} · {e(meta.get('duration_s'))} s</p>",
        f"<p class=big><b class={'fail' if failed else 'pass'}>{failed} of {len(records)} questions fail</b> — "
        "<a href='#questions-h'>failures first below</a></p>",
        "<h2>Headline</h2>", table(["metric", "value", "meaning"], headline_rows(summary)),
    ]
    if comparison is not None:
        parts.append(_diff_section(comparison))
    parts += [
        "<h2>By language</h2>", _group_table(summary["by_lang"], "language", model),
        *(["<h2>By split</h2>", _group_table(summary["by_split"], "split", model)] if summary.get("by_split") else []),
        charts_section(summary, records),
        "<h2>By category</h2>", _group_table(summary["by_category"], "category", model),
        questions_section(records),
        "</body></html>",
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
    paths["markdown"].write_text(render_markdown(summary, records, comparison), encoding="utf-8")
    paths["html"].write_text(render_html(summary, records, comparison), encoding="utf-8")
    return paths
