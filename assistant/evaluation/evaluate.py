"""Batch evaluation: load question files, ask the assistant, score every answer, aggregate.

Question files are JSONL (one object a line) or CSV with the same columns (list columns as JSON strings,
empty cells allowed); see :func:`load_questions`. Every text comparison goes through
:func:`assistant.lang.normalize_for_match` (Traditional → Simplified, no spaces, lower-case), so a
Traditional answer meets Simplified facts and evidence on the same terms.

Per-question metrics (``None`` where a metric does not apply; aggregates are means over the questions
where it applies):

* ``recall_at_{1,3,5,k}`` — answerable questions with evidence: 1 when one of the top-k retrieved passages
  contains an evidence string. ``mrr`` — 1/rank of the first such passage within the top k, else 0.
* ``fact_coverage`` — answerable questions with facts: 1 when the answer text (``[n]`` markers removed)
  contains at least one string of every fact group.
* ``citation_precision`` — answerable questions with evidence and at least one citation: 1 when the cited
  passages (``Citation.passage_text``, the quote when that is empty) contain an evidence string — the
  definition of the answers issue. A declined or uncited answer is not counted here (see recall).
* ``citation_passage_precision`` — the stricter per-citation form: the fraction of an answer's citations
  whose passage contains an evidence string. Evidence lists name one wording of a fact; a passage of
  another source stating the same fact counts as a miss here, so read it as a lower bound.
* ``citation_recall`` — answerable questions with evidence: the fraction of the evidence strings found in
  the cited passages (0 for a declined or uncited answer).
* ``decline_accuracy`` — non-answerable questions: 1 when the answer declined (``answer.answerable`` False).
* ``false_decline`` — answerable questions: 1 when the answer declined (aggregated as ``false_decline_rate``).
* ``forbidden_violation`` — questions with ``forbidden`` strings: 1 when the answer contains one
  (aggregated as the count ``forbidden_violations``).
* ``faithfulness`` / ``answer_correctness`` — only when a :class:`~assistant.evaluation.judge.Judge`
  (an LLM) is passed in;
  see there. ``judge_agreement`` / ``judge_correlation`` (over ``judge_n`` answers with both) say how well the
  judge's correctness agrees with ``fact_coverage`` (:func:`~assistant.evaluation.judge.agreement`).

Latency is the wall time of the ``answer()`` call; tokens come from ``Answer.usage``. A question whose
assistant call raised is recorded with ``error`` and scored as an empty, non-declining answer, so it fails
every metric that applies to it; it is left out of latency.

>>> summary = run_eval(FakeAssistant(), "questions.jsonl", "eval-out/run1")   # doctest: +SKIP
>>> summary["overall"]["fact_coverage"]                                      # doctest: +SKIP
0.92
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from assistant.data import Answer, AssistantLike, Filters, checklist_to_dict, citation_to_dict
from assistant.errors import AssistantError, InputError
from assistant.evaluation.eligibility import score_checklist
from assistant.evaluation.judge import Judge, agreement
from assistant.evaluation.questions import Question, load_questions
from assistant.lang import LANGS, normalize_for_match
from assistant.text.markers import strip_markers

log = logging.getLogger(__name__)

RECALL_KS = (1, 3, 5)
#: Aggregated metrics a CI gate may use, and which way is better.
HIGHER_IS_BETTER = ("recall_at_1", "recall_at_3", "recall_at_5", "mrr", "fact_coverage", "citation_precision",
                    "citation_passage_precision", "citation_recall", "decline_accuracy", "faithfulness",
                    "answer_correctness", "checklist_shown", "checklist_policy_hit", "checklist_item_recall",
                    "verdict_accuracy")
LOWER_IS_BETTER = ("false_decline_rate", "forbidden_violations", "errors", "latency_p50_ms", "latency_p95_ms",
                   "prompt_tokens", "completion_tokens", "cost_usd", "likely_on_incomplete")
#: Per-question pass/fail checks (metric key → passes when the value is 1, or 0 for the inverted ones).
CHECKS: dict[str, bool] = {"recall_at_5": True, "fact_coverage": True, "citation_precision": True,
                           "decline_accuracy": True, "false_decline": False, "forbidden_violation": False}
#: The parts of ``Answer.meta`` a result record keeps: what the model wrote, what its checks dropped, why the
#: answer fell back to quotes or was declined.
_DIAGNOSTIC_META = ("raw", "dropped", "fallback_reason", "declined_by", "decline_reason")


# --- scoring ----------------------------------------------------------------------------------------------

def _contains_any(text: str, needles: Sequence[str]) -> bool:
    haystack = normalize_for_match(text)
    return any(n and n in haystack for n in needles)


def score_answer(q: Question, answer: Answer, *, k: int = 5) -> dict[str, float | None]:
    """The per-question metrics of one answer (see the module docstring for definitions)."""
    evidence = [normalize_for_match(e) for e in q.evidence]
    declined = not answer.answerable
    m: dict[str, float | None] = {}
    ranks = [i for i, p in enumerate(answer.passages[:max(k, *RECALL_KS)], 1) if _contains_any(p.chunk.text, evidence)]
    for kk in sorted({*RECALL_KS, k}):
        m[f"recall_at_{kk}"] = float(any(r <= kk for r in ranks)) if q.answerable and evidence else None
    first = next((r for r in ranks if r <= k), None)
    m["mrr"] = (1.0 / first if first else 0.0) if q.answerable and evidence else None

    answer_text = normalize_for_match(strip_markers(answer.text))
    groups = [[normalize_for_match(s) for s in g] for g in q.facts]
    m["fact_coverage"] = (float(not declined and all(any(s in answer_text for s in g) for g in groups))
                          if q.answerable and groups else None)

    by_id = {p.chunk.id: p.chunk.text for p in answer.passages}
    cited = [normalize_for_match(c.passage_text or by_id.get(c.chunk_id) or c.quote) for c in answer.citations]
    hits = [any(e in text for e in evidence) for text in cited]
    m["citation_precision"] = float(any(hits)) if q.answerable and evidence and hits else None
    m["citation_passage_precision"] = sum(hits) / len(hits) if q.answerable and evidence and hits else None
    m["citation_recall"] = (sum(any(e in text for text in cited) for e in evidence) / len(evidence)
                            if q.answerable and evidence else None)
    m["decline_accuracy"] = None if q.answerable else float(declined)
    m["false_decline"] = float(declined) if q.answerable else None
    forbidden = [normalize_for_match(s) for s in q.forbidden]
    m["forbidden_violation"] = float(any(s in answer_text for s in forbidden)) if forbidden else None
    m.update(score_checklist(q, answer))
    return m


def question_checks(record: Mapping[str, Any]) -> dict[str, bool]:
    """Pass/fail of each applicable check of a result record (see :data:`CHECKS`), plus ``error``."""
    metrics = record.get("metrics", {})
    out = {name: (metrics[name] == 1.0) == good for name, good in CHECKS.items() if metrics.get(name) is not None}
    out["error"] = not record.get("error")
    return out


def question_passed(record: Mapping[str, Any]) -> bool:
    """A question passes when every applicable check except retrieval recall passes (the answer is what counts)."""
    return all(ok for name, ok in question_checks(record).items() if name != "recall_at_5")


# --- aggregation ------------------------------------------------------------------------------------------

def aggregate(records: Sequence[Mapping[str, Any]], *, price_prompt_per_m: float = 0.15,
              price_completion_per_m: float = 0.60) -> dict[str, Any]:
    """Aggregate result records into one metrics dict (rates are means over applicable questions)."""
    def values(name: str) -> list[float]:
        return [float(r["metrics"][name]) for r in records if r.get("metrics", {}).get(name) is not None]

    def mean(name: str) -> float | None:
        vals = values(name)
        return round(sum(vals) / len(vals), 4) if vals else None

    out: dict[str, Any] = {"n": len(records), "n_answerable": sum(1 for r in records if r["expected_answerable"]),
                           "errors": sum(1 for r in records if r.get("error"))}
    out["n_unanswerable"] = out["n"] - out["n_answerable"]
    metric_names = dict.fromkeys(n for r in records for n in r.get("metrics", {}))
    for name in metric_names:
        if name == "false_decline":
            out["false_decline_rate"] = mean(name)
        elif name == "forbidden_violation":
            out["forbidden_violations"] = int(sum(values(name)))
        else:
            out[name] = mean(name)
    out.update(agreement([(float(m["answer_correctness"]), float(m["fact_coverage"])) for r in records
                          if (m := r.get("metrics", {})).get("answer_correctness") is not None
                          and m.get("fact_coverage") is not None]))
    latencies = [float(r["latency_ms"]) for r in records if not r.get("error") and r.get("latency_ms") is not None]
    out["latency_p50_ms"], out["latency_p95_ms"] = _percentile(latencies, 50), _percentile(latencies, 95)
    out["prompt_tokens"] = sum(int(r.get("usage", {}).get("prompt_tokens", 0)) for r in records)
    out["completion_tokens"] = sum(int(r.get("usage", {}).get("completion_tokens", 0)) for r in records)
    out["cost_usd"] = round(out["prompt_tokens"] * price_prompt_per_m / 1e6
                            + out["completion_tokens"] * price_completion_per_m / 1e6, 6)
    return out


def _percentile(values: Sequence[float], pct: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default method)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * pct / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo), 1)


def summarize(records: Sequence[Mapping[str, Any]], meta: Mapping[str, Any], **prices: float) -> dict[str, Any]:
    """``{"overall", "by_lang" (all three languages), "by_category", "by_split", "meta"}`` from result records.

    ``by_split`` groups by the questions' ``split`` field (``tune``/``check`` in the dev set); it is empty
    when no question names a split.
    """
    by_lang = {lang: aggregate([r for r in records if r["lang"] == lang], **prices) for lang in LANGS}
    categories = sorted({r["category"] for r in records})
    by_category = {c: aggregate([r for r in records if r["category"] == c], **prices) for c in categories}
    splits = sorted({str(r.get("split") or "") for r in records} - {""})
    by_split = {s: aggregate([r for r in records if r.get("split") == s], **prices) for s in splits}
    return {"overall": aggregate(records, **prices), "by_lang": by_lang, "by_category": by_category,
            "by_split": by_split, "meta": dict(meta)}


# --- the CI gate --------------------------------------------------------------------------------------------

def parse_threshold(spec: str, *, lower_is_better: bool) -> tuple[str, float]:
    """``"fact_coverage=0.9"`` → ``("fact_coverage", 0.9)``; unknown metrics and wrong directions are errors."""
    name, sep, value = spec.partition("=")
    name = name.strip()
    if not sep:
        raise InputError(f"threshold {spec!r}: expected METRIC=VALUE, e.g. fact_coverage=0.9")
    if name not in HIGHER_IS_BETTER + LOWER_IS_BETTER:
        raise InputError(f"unknown metric {name!r}; known: {', '.join(HIGHER_IS_BETTER + LOWER_IS_BETTER)}")
    if (name in LOWER_IS_BETTER) != lower_is_better:
        flag = "--max" if name in LOWER_IS_BETTER else "--min"
        raise InputError(f"{name} is {'lower' if flag == '--max' else 'higher'}-is-better: use {flag} {spec}")
    try:
        return name, float(value)
    except ValueError:
        raise InputError(f"threshold {spec!r}: {value!r} is not a number") from None


def check_thresholds(overall: Mapping[str, Any], minimums: Mapping[str, float],
                     maximums: Mapping[str, float]) -> list[str]:
    """One line per failed threshold (empty when the gate passes). A metric that was not measured fails."""
    failures = []
    for name, bound, is_min in [(n, v, True) for n, v in minimums.items()] + [(n, v, False) for n, v in
                                                                                maximums.items()]:
        value = overall.get(name)
        if value is None:
            hint = " or run with --judge" if name in ("faithfulness", "answer_correctness") else ""
            failures.append(f"{name}: not measured (no applicable questions{hint})")
        elif is_min and value < bound:
            failures.append(f"{name} = {value:g} < {bound:g} (short by {bound - value:.4g})")
        elif not is_min and value > bound:
            failures.append(f"{name} = {value:g} > {bound:g} (over by {value - bound:.4g})")
    return failures


# --- the runner ---------------------------------------------------------------------------------------------

def run_eval(assistant: AssistantLike, questions: Sequence[Question] | str | Path, out_dir: str | Path, *,
             concurrency: int = 2, k: int = 5, resume: bool = True, progress: bool = True,
             judge: Judge | None = None, meta: Mapping[str, Any] | None = None,
             price_prompt_per_m: float = 0.15, price_completion_per_m: float = 0.60,
             filters: Filters | None = None) -> dict[str, Any]:
    """Ask every question (at most ``concurrency`` at a time), score, append to ``out_dir/results.jsonl``.

    ``filters`` restricts every answer to some documents, statuses or scopes (part of the run's fingerprint).

    Each record is written as soon as its question finishes, so an interrupted run resumes: with
    ``resume`` and the same ``out_dir``, questions already answered without error are skipped. A changed
    question file, mode, ``k`` or judge starts fresh (``out_dir/run.json`` keeps the run's fingerprint).
    Returns the summary (see :func:`summarize`); :mod:`assistant.evaluation.report` writes it out.
    """
    meta = dict(meta or {})
    if isinstance(questions, str | Path):
        meta.setdefault("questions_file", str(questions))
        questions = load_questions(questions)
    qs = list(questions)
    if concurrency < 1 or k < 1:
        raise InputError("concurrency and k must be at least 1")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mode = meta.get("mode") or getattr(assistant, "mode", None) or "unknown"
    parts: list[Any] = [[asdict(q) for q in qs], mode, k, judge is not None]
    if filters:
        parts.append(asdict(filters))  # only when set: runs without filters resume as before
    blob = json.dumps(parts, ensure_ascii=False, sort_keys=True)
    fingerprint = hashlib.sha1(blob.encode("utf-8")).hexdigest()[:16]
    results_path, run_path = out / "results.jsonl", out / "run.json"
    done = _resumable(run_path, results_path, fingerprint, {q.id for q in qs}) if resume else {}
    if not done:
        results_path.write_text("", encoding="utf-8")
        run_path.write_text(json.dumps({"fingerprint": fingerprint, "mode": mode, "k": k,
                                        "questions_file": meta.get("questions_file")}, ensure_ascii=False),
                            encoding="utf-8")
    todo = [q for q in qs if q.id not in done]
    index = {q.id: i for i, q in enumerate(qs)}
    records: dict[str, dict[str, Any]] = dict(done)
    started, t0 = datetime.now(UTC), time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="eval")
    try:
        with results_path.open("a", encoding="utf-8") as sink, \
                tqdm(total=len(qs), initial=len(done), desc="eval", unit="q", disable=not progress) as bar:
            def keep(done_futures: Iterable[Future[dict[str, Any]]]) -> BaseException | None:
                """Write the finished records; return what stopped a worker (Ctrl-C and the like)."""
                stop = None
                for fut in sorted(done_futures, key=futures.__getitem__):
                    if fut.cancelled():
                        continue
                    if (exc := fut.exception()) is not None:
                        stop = stop or exc
                        continue
                    record = fut.result()
                    sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                    sink.flush()
                    records[record["id"]] = record
                    bar.update()
                return stop

            futures = {pool.submit(_ask, assistant, q, k, judge, index[q.id], filters): index[q.id] for q in todo}
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                if (stop := keep(finished)) is not None:
                    for fut in pending:
                        fut.cancel()
                    keep(wait(pending).done)  # questions already running still count
                    raise stop
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    ordered = [records[q.id] for q in qs]
    models = Counter(r["model"] for r in ordered if r.get("model"))
    meta.update(mode=mode, model=meta.get("model") or getattr(assistant, "model_name", None)
                or (models.most_common(1)[0][0] if models else None),
                n=len(qs), started=started.isoformat(timespec="seconds"),
                duration_s=round(time.perf_counter() - t0, 2), k=k, concurrency=concurrency,
                fingerprint=fingerprint, resumed=len(done), judge=judge.name if judge else None,
                answer_modes=dict(Counter(str(r.get("mode")) for r in ordered)),
                price_prompt_per_m=price_prompt_per_m, price_completion_per_m=price_completion_per_m)
    return summarize(ordered, meta, price_prompt_per_m=price_prompt_per_m,
                     price_completion_per_m=price_completion_per_m)


def load_results(out_dir: str | Path) -> list[dict[str, Any]]:
    """The records of ``out_dir/results.jsonl``, last one per id, in question-file order.

    A line torn by an interruption is skipped.
    """
    path = Path(out_dir) / "results.jsonl"
    records: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a write cut short by an interruption
            if isinstance(record, dict) and "id" in record:
                records.pop(record["id"], None)
                records[record["id"]] = record
    return sorted(records.values(), key=lambda r: r.get("index", 0))


def _resumable(run_path: Path, results_path: Path, fingerprint: str, ids: set[str]) -> dict[str, dict[str, Any]]:
    try:
        previous = json.loads(run_path.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, json.JSONDecodeError, AttributeError):
        return {}
    if previous != fingerprint:
        log.warning("%s belongs to another question file, mode or k: starting fresh", run_path.parent)
        return {}
    return {r["id"]: r for r in load_results(results_path.parent) if r["id"] in ids and not r.get("error")}


def _ask(assistant: AssistantLike, q: Question, k: int, judge: Judge | None, index: int,
         filters: Filters | None = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    error = None
    try:
        answer = (assistant.answer(q.question, q.history, lang=q.lang, filters=filters) if filters
                  else assistant.answer(q.question, q.history, lang=q.lang))
    except Exception as exc:  # any failure of one question is recorded and the run goes on
        log.debug("question %s failed", q.id, exc_info=True)
        error = f"{type(exc).__name__}: {exc}"
        answer = Answer(question=q.question, text="", lang=q.lang)
    latency_ms = round((time.perf_counter() - t0) * 1000, 1)
    metrics = score_answer(q, answer, k=k)
    judge_error = None
    if judge is not None:
        metrics.update(faithfulness=None, answer_correctness=None)
        if error is None:
            try:
                metrics.update(judge.judge(q, answer))
            except AssistantError as exc:
                judge_error = str(exc)
    evidence = [normalize_for_match(e) for e in q.evidence]
    return {
        "id": q.id, "index": index, "question": q.question, "lang": q.lang, "category": q.category,
        "split": q.split, "expected_answerable": q.answerable, "history": [asdict(m) for m in q.history],
        # what the report shows beside the answer, so a reader sees why a question failed
        "facts": [list(g) for g in q.facts], "evidence": list(q.evidence), "forbidden": list(q.forbidden),
        "answer": answer.text, "answerable": None if error else answer.answerable,
        "confidence": None if error or answer.confidence is None else round(answer.confidence, 4),
        "suggestions": list(answer.suggestions),
        "mode": None if error else answer.mode, "model": answer.model, "notice": answer.notice,
        "citations": [{**citation_to_dict(c), "hit": _contains_any(c.passage_text or c.quote, evidence)}
                      for c in answer.citations],
        "passages": [{"rank": i, "id": p.chunk.id, "source": p.chunk.source, "section": p.chunk.section_path,
                      "score": round(float(p.score), 4), "text": p.chunk.text,
                      "hit": _contains_any(p.chunk.text, evidence)} for i, p in enumerate(answer.passages[:k], 1)],
        "checklist": None if error else checklist_to_dict(answer),
        # why an answer is what it is: what the model wrote, what the checks dropped, why it fell back or declined
        "meta": {} if error else {k: answer.meta[k] for k in _DIAGNOSTIC_META if k in answer.meta},
        "metrics": metrics, "latency_ms": None if error else latency_ms, "timings_ms": dict(answer.timings_ms),
        "usage": {"prompt_tokens": answer.usage.prompt_tokens, "completion_tokens": answer.usage.completion_tokens,
                  "cached_tokens": answer.usage.cached_tokens},
        "error": error, "judge_error": judge_error,
    }
