"""``park-assistant``: index, search, ask, eval, serve. Thin: parse options, call the package, print.

Every :class:`~assistant.errors.AssistantError` becomes one line on stderr and exit code 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from assistant.errors import AssistantError, ConfigError

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """Turn AssistantError into one line on stderr and exit code 1 (no stack trace for users)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AssistantError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="park-assistant")
def cli() -> None:
    """Hetao park policy assistant: cited answers from the plan and policy lists."""


def _settings(**overrides: Any) -> Any:
    from assistant.config import Settings

    return Settings.from_env(**overrides)


@cli.command("index")
@click.option("--sources", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of source documents [default: <index dir>/sources, or PARK_SOURCES_DIR].")
@click.option("--index-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Index folder [default: ./index, or PARK_INDEX_DIR].")
@click.option("--force", is_flag=True, help="Re-embed every chunk even if it is unchanged.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar on stderr.")
@friendly_errors
def index_command(sources: Path | None, index_dir: Path | None, force: bool, progress: bool) -> None:
    """Build or refresh the index: embeds only new or changed chunks, swaps atomically.

    Exit code 3 when some files were skipped (they are named; the rest is indexed).
    """
    from tqdm import tqdm

    from assistant.wiring import build_indexer

    settings = _settings(sources_dir=sources, index_dir=index_dir)
    indexer = build_indexer(settings)
    bar: tqdm[Any] | None = None

    def on_progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="chunk", desc="embedding", disable=not progress or total < 8)
        bar.n = done
        bar.refresh()

    report = indexer.build(progress=on_progress, force=force)
    if bar is not None:
        bar.close()
    for skipped in report.skipped:
        click.echo(f"skipped {skipped.source}: {skipped.reason}", err=True)
    state = "unchanged" if report.unchanged else f"build {report.build_id}"
    click.echo(f"{state}: {report.documents} documents, {report.chunks} chunks "
               f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.1f} s")
    if report.skipped:
        click.echo(f"{len(report.skipped)} file(s) skipped — fix or remove them and run again", err=True)
        sys.exit(3)


def _check_filter(ctx: click.Context, param: click.Parameter, given: tuple[str, ...]) -> tuple[str, ...]:
    """Check --status/--scope values against :mod:`assistant.knowledge.lifecycle` before anything loads."""
    from assistant.knowledge.lifecycle import wanted_scopes, wanted_statuses

    try:
        (wanted_statuses if param.name == "statuses" else wanted_scopes)(given)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return given


status_option = click.option(
    "--status", "statuses", multiple=True, callback=_check_filter,
    help="Only policies with this lifecycle status today: in_force (also keeps expiring), expiring, expired, "
         "superseded, upcoming, draft, undated; repeatable.")
scope_option = click.option("--scope", "scopes", multiple=True, callback=_check_filter,
                            help="Only documents for this park: 深圳园区, 香港园区 or both (a park keeps 'both' "
                                 "too); repeatable.")


@cli.command("search")
@click.argument("question")
@click.option("-k", "--top-k", "k", type=click.IntRange(1, 50), default=5, show_default=True,
              help="Number of passages.")
@click.option("--source", "sources", multiple=True, help="Only this document (file name); repeatable.")
@click.option("--kind", "kinds", multiple=True, help="Only documents of this kind (front matter); repeatable.")
@status_option
@scope_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@friendly_errors
def search_command(question: str, k: int, sources: tuple[str, ...], kinds: tuple[str, ...],
                   statuses: tuple[str, ...], scopes: tuple[str, ...], as_json: bool) -> None:
    """Print the passages that best match QUESTION, with document, section path, score and quote."""
    from assistant.data import Filters
    from assistant.wiring import build_retriever

    retriever = build_retriever(_settings())
    result = retriever.search(question, k, Filters(sources, kinds, statuses, scopes))
    if as_json:
        rows = [{"rank": r, "id": p.id, "source": p.chunk.source, "title": p.chunk.title,
                 "section": p.chunk.section_path, "score": round(p.score, 5), "dense_rank": p.dense_rank,
                 "lexical_rank": p.lexical_rank, "start": p.chunk.start, "end": p.chunk.end, "text": p.text}
                for r, p in enumerate(result.passages, start=1)]
        click.echo(json.dumps({"query": result.query, "timings_ms": result.timings_ms, "passages": rows},
                              ensure_ascii=False, indent=1))
        return
    if result.expansion:
        click.echo(f"query terms added: {' '.join(result.expansion)}")
    for r, p in enumerate(result.passages, start=1):
        c = p.chunk
        doc_no = f" · {c.meta['doc_no']}" if c.meta.get("doc_no") else ""
        click.echo(click.style(f"[{r}] {c.title}{doc_no}", bold=True) + f"  score {p.score:.4f} "
                   f"(dense #{p.dense_rank or '-'}, bm25 #{p.lexical_rank or '-'})")
        click.echo(f"    {c.section_path}  [{c.source}:{c.start}-{c.end}]")
        for line in c.text.splitlines():
            click.echo(f"    │ {line}")
    t = result.timings_ms
    click.echo(f"({t['total']:.0f} ms: query embedding {t['embed_query']:.0f} ms, dense {t['dense']:.0f} ms, "
               f"bm25 {t['lexical']:.0f} ms)", err=True)


@cli.command("ask")
@click.argument("question")
@click.option("--mode", type=click.Choice(["auto", "extractive", "llm"]), default=None,
              help="extractive = quoted sentences, offline; llm = the OpenAI-compatible endpoint "
                   "[default: PARK_MODE, auto = llm when OPENAI_BASE_URL/OPENAI_API_KEY is set].")
@click.option("--lang", type=click.Choice(["zh-Hans", "zh-Hant", "en"]), default=None,
              help="Answer language [default: the question's].")
@friendly_errors
def ask_command(question: str, mode: str | None, lang: str | None) -> None:
    """Answer QUESTION, streaming to the terminal, then list the cited sources."""
    from assistant.answering.eligibility.render import render_checklist
    from assistant.data import Answer, Sources
    from assistant.wiring import build_assistant

    assistant = build_assistant(_settings(mode=mode))
    final: Answer | None = None
    streamed = []
    for event in assistant.stream(question, lang=lang):
        if isinstance(event, Sources):
            if event.citations:  # shown at once, while the answer is written
                click.echo(click.style("Retrieved sources:", bold=True))
                for c in event.citations:
                    click.echo(f"  ({c.n}) " + " · ".join(x for x in (c.title, c.doc_no, c.section) if x))
                click.echo()
        elif isinstance(event, Answer):
            final = event
        else:
            streamed.append(event.text)
            click.echo(event.text, nl=False)
    assert final is not None
    if final.text.strip() != "".join(streamed).strip():  # verification changed the model's text
        click.echo("\n\n" + click.style("Verified answer:", bold=True) + "\n" + final.text, nl=False)
    click.echo()
    if final.notice:
        click.echo(click.style(f"! {final.notice}", fg="yellow"))
    if final.verdict is not None and not final.text.endswith(checklist := render_checklist(final)):
        click.echo("\n" + checklist)
    mode_label = final.model if final.mode == "llm" else final.mode
    click.echo(click.style(f"\nSources ({mode_label}):", bold=True))
    for c in final.citations:
        section = c.section.removeprefix(c.title).removeprefix(" › ")
        meta = " · ".join(x for x in (c.title, c.doc_no, section) if x)
        click.echo(f"[{c.n}] {meta}")
        click.echo(f"    「{c.quote.strip()}」 ({c.source}:{c.start}-{c.end})")


@cli.command("serve")
@click.option("--host", default=None, help="Interface to bind [default: 127.0.0.1, or PARK_HOST].")
@click.option("--port", type=int, default=None, help="Port [default: 7860, or PARK_PORT].")
@friendly_errors
def serve_command(host: str | None, port: int | None) -> None:
    """Serve the web chat (/), the API (/api/v1, /v1/chat/completions), the widget (/widget.js) and, with
    PARK_ADMIN_TOKEN set, the editors' admin API (/api/v1/admin) and page (/admin)."""
    from assistant.web.server import serve
    from assistant.wiring import admin_tools, live_assistant

    settings = _settings(host=host, port=port)
    serve(settings, live_assistant(settings), admin_tools(settings))


@cli.group("gaps")
def gaps_group() -> None:
    """Content gaps: questions the sources could not answer (declined) or answered with low confidence."""


@gaps_group.command("export")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True), required=True,
              help="The .jsonl file to write (the dev set's format: label facts/evidence, then run `eval` on it).")
@click.option("--all", "every", is_flag=True, help="Every stored question, not only the gaps (one line each).")
@friendly_errors
def gaps_export_command(out_path: str, every: bool) -> None:
    """Write the stored questions as an eval file for editors to label (one line per gap; --all: per question)."""
    from pathlib import Path

    from assistant.web.questions import QuestionLog, gaps_as_eval_rows
    from assistant.wiring import build_embedder

    settings = _settings()
    log = QuestionLog(settings.feedback_db)
    embedder = build_embedder(settings)
    rows = gaps_as_eval_rows(log, lambda texts: embedder.embed(texts, "query"), every=every)
    Path(out_path).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    click.echo(f"{len(rows)} question(s) written to {out_path}")


@cli.command("llm")
@click.option("--port", type=int, default=None, help="Port on --host [default: a free one].")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@friendly_errors
def llm_command(port: int | None, host: str) -> None:
    """Run the local model's llama.cpp server on its own, so several app processes can share it.

    \b
    Prints its URL; point the apps at it:
      OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 PARK_LLM_MODEL=<name> park-assistant serve
    """
    import contextlib
    import signal
    import threading

    from assistant.answering.llm_server import Supervisor
    from assistant.answering.local_model import resolve_model

    settings = _settings()
    model = resolve_model(settings.local_model if settings.local_model != "off" else "auto",
                          settings.local_chat_template, settings.model_dir)
    if model is None:
        raise ConfigError("no local model: install it with `bash scripts/setup.sh` or set PARK_LOCAL_MODEL to a GGUF")
    supervisor = Supervisor(model, threads=settings.llm_threads, n_ctx=4096 * settings.llm_slots,
                            parallel=settings.llm_slots, port=port, host=host)
    with supervisor.start(wait=True):
        click.echo(f"{model.alias} ({model.path}) serving at {supervisor.base_url}")
        click.echo(f"use it: OPENAI_BASE_URL={supervisor.base_url} PARK_LLM_MODEL={model.alias}", err=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


# --- eval ----------------------------------------------------------------------------------------------
# (the `eval` command is defined below this line)

def _build_assistant(settings: Any) -> Any:
    """The assistant under test. A seam: tests replace this function to hand the command a fake."""
    from assistant.wiring import build_assistant

    assistant = build_assistant(settings)
    assistant.warm_up(wait=True)  # latencies are measured warm; cold start is a benchmark of its own (bench/)
    return assistant


def _build_judge_model(settings: Any) -> Any:
    """The chat model that judges answers for --judge: the configured endpoint, even when evaluating
    extractive answers (ConfigError naming OPENAI_BASE_URL/OPENAI_API_KEY when there is none)."""
    from assistant.wiring import build_chat_model

    return build_chat_model(settings.with_(mode="llm"))


def _thresholds(lower_is_better: bool) -> Callable[[click.Context, click.Parameter, tuple[str, ...]],
                                                   dict[str, float]]:
    def parse(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, float]:
        from assistant.evaluation.evaluate import parse_threshold

        try:
            return dict(parse_threshold(v, lower_is_better=lower_is_better) for v in values)
        except AssistantError as exc:  # checked before the run starts, not after an hour of questions
            raise click.BadParameter(str(exc)) from None

    return parse


@cli.command("eval")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for results.jsonl, summary.json, report.md/html [default: eval-out/<timestamp>]. "
                   "Rerunning with the same folder resumes an interrupted run.")
@click.option("--mode", type=click.Choice(["extractive", "llm"]), default=None,
              help="Answer mode to evaluate [default: the configured PARK_MODE].")
@click.option("--compare", "previous", type=click.Path(exists=True, file_okay=False),
              help="An earlier run's --out folder: the report lists regressions first, then improvements.")
@click.option("--min", "minimums", multiple=True, metavar="METRIC=VALUE", callback=_thresholds(False),
              help="Fail (exit 2) when a higher-is-better metric is below VALUE, e.g. --min fact_coverage=0.9. "
                   "Repeatable.")
@click.option("--max", "maximums", multiple=True, metavar="METRIC=VALUE", callback=_thresholds(True),
              help="Fail (exit 2) when a lower-is-better metric (false_decline_rate, forbidden_violations, errors, "
                   "latency_p50_ms, latency_p95_ms, cost_usd, …) is above VALUE. Repeatable.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Questions answered at the same time.")
@click.option("--k", "k", type=click.IntRange(1, 100), default=5, show_default=True,
              help="Passages considered for recall@k and MRR.")
@click.option("--judge/--no-judge", default=False, show_default=True,
              help="Also score faithfulness and answer correctness with the configured chat model (costs tokens).")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Skip questions already answered in --out (same questions file and mode).")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar on stderr.")
@click.option("--split", "splits", multiple=True, help="Only questions of this split (tune, check); repeatable.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N questions (after --split).")
@status_option
@scope_option
@friendly_errors
def eval_command(questions: str, out_dir: str | None, mode: str | None, previous: str | None,
                 minimums: dict[str, float], maximums: dict[str, float], concurrency: int, k: int, judge: bool,
                 resume: bool, progress: bool, splits: tuple[str, ...], limit: int | None,
                 statuses: tuple[str, ...], scopes: tuple[str, ...]) -> None:
    """Ask every question in QUESTIONS (.jsonl or .csv), score the answers and write a report.

    \b
    Example (a CI gate):
      park-assistant eval eval/dev.jsonl --mode extractive \\
          --min fact_coverage=0.9 --min decline_accuracy=1.0 --max forbidden_violations=0
    """
    from datetime import datetime
    from pathlib import Path

    from assistant.answering.prompts import Prompts
    from assistant.config import Settings
    from assistant.data import Filters
    from assistant.evaluation.evaluate import check_thresholds, load_results, run_eval
    from assistant.evaluation.judge import Judge
    from assistant.evaluation.questions import load_questions
    from assistant.evaluation.report import format_table, write_report

    if {"faithfulness", "answer_correctness"} & set(minimums) and not judge:
        raise click.BadParameter("faithfulness and answer_correctness are only measured with --judge",
                                 param_hint="--min")
    qs = load_questions(questions)  # a bad file fails before the assistant (and its index) is loaded
    if splits:
        qs = [q for q in qs if q.split in splits]
    qs = qs[:limit] if limit else qs
    # The evaluation measures answers, not the queue or a busy machine: questions wait for the model (slot, first
    # token, whole answer) instead of being quoted, and slow answers do not open the circuit breaker.
    settings = Settings.from_env()
    settings = settings.with_(llm_max_wait_s=3600.0, request_budget_s=3600.0, llm_queue=64, breaker_failures=10**6,
                              llm_timeout_s=max(settings.llm_timeout_s, 600.0))
    if mode:
        settings = settings.with_(mode=mode)
    out = Path(out_dir) if out_dir else Path("eval-out") / datetime.now().strftime("%Y%m%d-%H%M%S")
    assistant = _build_assistant(settings)
    shared = getattr(getattr(assistant, "generative", None), "chat_model", None)  # one local server, not two
    judge_model = Judge(shared or _build_judge_model(settings), Prompts(settings.prompts_dir)) if judge else None
    summary = run_eval(assistant, qs, out, concurrency=concurrency, k=k, resume=resume, progress=progress,
                       judge=judge_model, meta={"questions_file": str(questions), "mode": settings.answer_mode},
                       price_prompt_per_m=settings.price_prompt_per_m,
                       price_completion_per_m=settings.price_completion_per_m,
                       filters=Filters(statuses=statuses, scopes=scopes))
    records = load_results(out)
    paths = write_report(out, summary, records, previous=previous)
    click.echo(format_table(summary))
    overall = summary["overall"]
    click.echo(f"\nreport: {paths['html']}\nsummary: {paths['summary']} · {paths['markdown']} · "
               f"{out / 'results.jsonl'}")
    first_error = next((r["error"] for r in records if r.get("error")), None)
    if first_error and overall["errors"] == overall["n"]:
        raise AssistantError(f"every question failed, e.g. {first_error}")
    if first_error:
        click.echo(f"{overall['errors']} of {overall['n']} questions failed with an error, e.g. {first_error}",
                   err=True)
    failures = check_thresholds(overall, minimums, maximums)
    if failures:
        click.echo("gate failed:\n" + "\n".join(f"  {f}" for f in failures), err=True)
        sys.exit(2)


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
