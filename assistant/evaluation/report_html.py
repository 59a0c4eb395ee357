"""The evaluation report as one self-contained HTML page (inline CSS, a few lines of inline script, PNG charts).

Failures come first, always. Each question is one collapsed row (``<details>``) that opens to the answer
beside what was expected: the fact groups (each string marked found or missing in the answer), the evidence
strings, the cited quotes and the retrieved passages with the rank of the first one that holds evidence.
A filter bar narrows the list by language, category, split and outcome. Every piece of text from questions,
answers and sources is HTML-escaped; the script only toggles ``hidden`` on rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from assistant.evaluation.evaluate import CHECKS, question_checks, question_passed
from assistant.evaluation.report_charts import (
    confidence_chart,
    first_hit_rank,
    group_chart,
    latency_chart,
    rank_chart,
)
from assistant.lang import normalize_for_match
from assistant.text.markers import strip_markers

CSS = """
*{box-sizing:border-box}body{font-family:"Noto Sans CJK SC","Noto Sans",system-ui,sans-serif;margin:1.5rem auto;
max-width:1240px;color:#222;padding:0 1rem;font-size:14px}h1{margin-bottom:.2rem}.meta{color:#666}
table{border-collapse:collapse;margin:.6rem 0 1.2rem;max-width:100%}th,td{border:1px solid #ddd;padding:.25rem .45rem;
vertical-align:top;text-align:left}th{background:#f4f4f4}td.num,span.num{text-align:right;
font-variant-numeric:tabular-nums}.pass{color:#17803d}.fail{color:#c62828;font-weight:600}.na{color:#999}
.big{font-size:1.15rem}section.diff{border:2px solid #c62828;padding:.5rem 1rem;margin:1rem 0}
h3.regressions{color:#c62828}h3.improvements{color:#17803d}.charts{display:grid;grid-template-columns:1fr 1fr;
gap:.6rem 1rem}.charts img{max-width:100%}.groups{display:grid;grid-template-columns:1fr 1fr;gap:1rem;
overflow-x:auto}.filters{position:sticky;top:0;background:#fff;padding:.4rem 0;border-bottom:1px solid #ddd;
display:flex;flex-wrap:wrap;gap:.8rem;align-items:center;z-index:1}details.q{border:1px solid #ddd;
border-left:5px solid #17803d;border-radius:4px;margin:.3rem 0}details.q.failed{border-left-color:#c62828}
details.q>summary{cursor:pointer;padding:.35rem .6rem;display:grid;grid-template-columns:1.4rem 6rem 4.2rem 7rem
3.4rem minmax(0,1fr) 12rem 4.6rem 3.6rem;gap:.5rem;align-items:baseline}details.q>summary>span{overflow:hidden;
text-overflow:ellipsis;white-space:nowrap}details.q[open]>summary>span.qtext{white-space:normal}
.why{color:#c62828;font-size:.85em}.body{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1rem;
padding:.4rem .8rem .8rem;border-top:1px solid #eee}.answer{white-space:pre-wrap;background:#fafafa;padding:.4rem;
border-radius:4px}h4{margin:.5rem 0 .2rem;font-size:.9rem}ul.list{margin:0;padding-left:1.1rem}
.found{color:#17803d}.missing{color:#c62828;font-weight:600}.err{color:#c62828;font-family:monospace}
.psg{color:#444;font-size:.9em}
"""

_SCRIPT = """
const rows=[...document.querySelectorAll('details.q')];const sel=[...document.querySelectorAll('.filters select')];
function apply(){let shown=0;for(const r of rows){const ok=sel.every(s=>!s.value||r.dataset[s.name]===s.value);
r.hidden=!ok;if(ok)shown++;}document.getElementById('shown').textContent=shown;}
sel.forEach(s=>s.addEventListener('change',apply));apply();
"""

#: Headline rows that only mean something when a language model answered.
MODEL_ONLY = ("prompt_tokens", "completion_tokens", "cost_usd")
_SHORT = {"recall_at_5": "R@5", "fact_coverage": "facts", "citation_precision": "cite P", "decline_accuracy": "decline",
          "false_decline": "false decline", "forbidden_violation": "forbidden", "error": "error"}


def e(value: Any) -> str:
    """HTML-escaped text."""
    return escape(str(value), quote=True)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], *, raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw`` (then the caller has escaped them)."""
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c if raw else e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def img(b64: str | None, alt: str) -> str:
    """A chart, or a line saying there was nothing to draw."""
    return f'<img alt="{e(alt)}" src="data:image/png;base64,{b64}">' if b64 else f"<p class=na>{e(alt)}: no data</p>"


def used_model(meta: Mapping[str, Any]) -> bool:
    """Did a language model answer in this run (so token counts and cost mean something)?"""
    return meta.get("mode") == "llm" or bool(meta.get("judge")) or "llm" in (meta.get("answer_modes") or {})


def _found(needle: str, haystack: str) -> bool:
    return normalize_for_match(needle) in haystack


def _expected(r: Mapping[str, Any]) -> str:
    """Facts (each string found or missing in the answer), evidence (found in a cited passage or not)."""
    answer = normalize_for_match(strip_markers(str(r.get("answer") or "")))
    parts = []
    facts = r.get("facts") or []
    if facts:
        groups = []
        for group in facts:
            marks = " / ".join(f"<span class={'found' if _found(s, answer) else 'missing'}>{e(s)}</span>"
                               for s in group)
            groups.append(f"<li>{marks}</li>")
        parts.append(f"<h4>Expected facts (one of each line)</h4><ul class=list>{''.join(groups)}</ul>")
    elif not r.get("expected_answerable", True):
        parts.append("<h4>Expected</h4><p>a decline (the sources do not answer this)</p>")
    evidence = r.get("evidence") or []
    if evidence:
        cited = normalize_for_match(" ".join(str(c.get("quote", "")) for c in r.get("citations", [])))
        retrieved = normalize_for_match(" ".join(str(p.get("text", "")) for p in r.get("passages", [])))
        items = []
        for s in evidence:
            where = "cited" if _found(s, cited) else "retrieved, not cited" if _found(s, retrieved) else "not found"
            items.append(f"<li><span class={'found' if where == 'cited' else 'missing'}>{e(s)}</span> "
                         f"<span class=na>({where})</span></li>")
        parts.append(f"<h4>Evidence</h4><ul class=list>{''.join(items)}</ul>")
    forbidden = [s for s in r.get("forbidden") or [] if _found(s, answer)]
    if forbidden:
        parts.append(f"<h4>Forbidden strings in the answer</h4><p class=missing>{e(', '.join(forbidden))}</p>")
    return "".join(parts) or "<p class=na>no expectations recorded (an older results file)</p>"


def _question(r: Mapping[str, Any]) -> str:
    status = question_checks(r)
    ok = question_passed(r)
    failing = [_SHORT.get(c, c) for c, good in status.items() if not good and c != "recall_at_5"]
    rank = first_hit_rank(r)
    latency = r.get("latency_ms")
    data = {"lang": r.get("lang", ""), "category": r.get("category", ""), "split": r.get("split") or "—",
            "outcome": "pass" if ok else "fail"}
    attrs = " ".join(f'data-{k}="{e(v)}"' for k, v in data.items())
    history = "".join(f"<div class=na>{e(t['role'])}: {e(t['content'])}</div>" for t in r.get("history", []))
    summary = (f"<summary><span class={'pass' if ok else 'fail'}>{'✓' if ok else '✗'}</span>"
               f"<span>{e(r['id'])}</span><span>{e(r.get('lang', ''))}</span><span>{e(r.get('category', ''))}</span>"
               f"<span>{e(data['split'])}</span><span class=qtext>{e(r['question'])}</span>"
               f"<span class=why>{e(', '.join(failing))}</span>"
               f"<span class=num title='first evidence rank'>{'rank ' + str(rank) if rank else '—'}</span>"
               f"<span class=num>{'' if latency is None else f'{latency:,.0f} ms'}</span></summary>")
    answer = e(r.get("answer") or "")
    if r.get("error"):
        answer += f"<div class=err>{e(r['error'])}</div>"
    if r.get("notice"):
        answer += f"<div class=na>notice: {e(r['notice'])}</div>"
    quotes = "".join(f"<li class={'pass' if c.get('hit') else 'na'}>[{e(c['n'])}] {e(str(c['quote'])[:240])}</li>"
                     for c in r.get("citations", []))
    passages = "".join(f"<li class={'pass' if p.get('hit') else 'na'}>#{e(p['rank'])} {e(p.get('section', ''))} "
                       f"<span class=psg>{e(str(p.get('text', ''))[:120])}</span></li>" for p in r.get("passages", []))
    checks = " · ".join(f"<span class={'pass' if good else 'fail'}>{e(_SHORT.get(c, c))}</span>"
                        for c, good in status.items())
    body = (f"<div class=body><div><h4>Question</h4>{history}<p>{e(r['question'])}</p>"
            f"<h4>Answer ({e(r.get('mode') or 'error')})</h4><div class=answer>{answer}</div>"
            f"<h4>Checks</h4><p>{checks}</p></div>"
            f"<div>{_expected(r)}<h4>Cited quotes</h4><ul class=list>{quotes or '<li class=na>none</li>'}</ul>"
            f"<h4>Retrieved passages (green: holds evidence)</h4><ul class=list>{passages}</ul></div></div>")
    return f"<details class='q {'passed' if ok else 'failed'}' {attrs}>{summary}{body}</details>"


def _filters(records: Sequence[Mapping[str, Any]]) -> str:
    def select(name: str, label: str, values: Sequence[str]) -> str:
        options = "".join(f'<option value="{e(v)}">{e(v)}</option>' for v in values)
        return f'<label>{e(label)} <select name="{e(name)}"><option value="">all</option>{options}</select></label>'

    langs = sorted({str(r.get("lang", "")) for r in records})
    categories = sorted({str(r.get("category", "")) for r in records})
    splits = sorted({str(r.get("split") or "—") for r in records})
    return (f"<div class=filters>{select('outcome', 'outcome', ['fail', 'pass'])}{select('lang', 'language', langs)}"
            f"{select('category', 'category', categories)}{select('split', 'split', splits)}"
            f"<span class=meta>showing <b id=shown>{len(records)}</b> of {len(records)}</span></div>")


def questions_section(records: Sequence[Mapping[str, Any]]) -> str:
    """Every question, failures first (then by their order in the question file), with the filter bar."""
    ordered = sorted(records, key=lambda r: (question_passed(r), r.get("index", 0)))
    legend = ("<p class=meta>✓ pass · ✗ fail (the checks that failed in red) · rank: where the first retrieved "
              "passage with evidence stood · a question fails when any check but R@5 fails "
              f"({', '.join(_SHORT.get(c, c) for c in CHECKS)}, error).</p>")
    return (f"<h2 id=questions-h>Questions</h2>{legend}{_filters(records)}"
            f"<div id=questions>{''.join(_question(r) for r in ordered)}</div><script>{_SCRIPT}</script>")


def charts_section(summary: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> str:
    """What varies between questions, drawn."""
    passed = [question_passed(r) for r in records]
    k = int(summary["meta"].get("k") or 5)
    charts = [img(rank_chart(records, k), "first evidence rank chart"), img(latency_chart(records, passed),
                                                                            "latency histogram"),
              img(group_chart(summary["by_lang"], "R@1 and MRR by language"), "R@1 and MRR by language chart"),
              img(group_chart(summary["by_category"], "R@1 and MRR by category"), "R@1 and MRR by category chart")]
    confidence = confidence_chart(records, passed)
    if confidence:
        charts.append(img(confidence, "confidence histogram"))
    return f"<h2>Charts</h2><div class=charts>{''.join(charts)}</div>"
