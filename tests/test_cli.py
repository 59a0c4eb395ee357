"""``park-assistant``: every command through click's runner, over the tiny corpus with the fake embedder.

The embedder is the only seam (``assistant.wiring.build_embedder``); the index, chroma store, retriever and
answerer are the real ones. Deeper behaviour of each command is tested beside its package (indexing,
evaluation); here: that each command exists, parses its options, prints what a user needs, and turns
errors into one line and an exit code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import assistant.wiring
from assistant.cli import cli
from assistant.config import Settings
from assistant.testing import FakeEmbedder

COMMANDS = {"index", "search", "ask", "eval", "serve", "gaps"}


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def env(tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PARK_INDEX_DIR", str(tiny_settings.index_dir))
    embedder = FakeEmbedder()
    monkeypatch.setattr(assistant.wiring, "build_embedder", lambda settings: embedder)
    return tiny_settings


@pytest.fixture
def indexed(env: Settings) -> Settings:
    result = run("index", "--no-progress")
    assert result.exit_code == 0, result.output
    return env


def test_every_command_is_listed_and_has_help() -> None:
    listing = run("--help")
    assert listing.exit_code == 0
    listed = {line.split()[0] for line in listing.output.split("Commands:")[1].splitlines() if line.strip()}
    assert listed >= COMMANDS
    for command in sorted(listed):
        result = run(command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output and "--help" in result.output, command


def test_index_builds_then_is_unchanged(env: Settings) -> None:
    first = run("index", "--no-progress")
    assert first.exit_code == 0 and first.output.startswith("build ") and "2 documents" in first.output
    second = run("index", "--no-progress")
    assert second.exit_code == 0 and second.output.startswith("unchanged: 2 documents")


def test_index_names_a_bad_file_once_and_exits_3(env: Settings) -> None:
    (env.sources / "broken.pdf").write_bytes(b"%PDF-1.4 not really\n" * 10)
    result = run("index", "--no-progress")
    assert result.exit_code == 3
    assert result.stderr.count("skipped broken.pdf") == 1 and "fix or remove" in result.stderr
    assert "2 documents" in result.output  # the rest is indexed


def test_search_text_and_json(indexed: Settings) -> None:
    text = run("search", "合作区总面积有多大？", "-k", "2")
    assert text.exit_code == 0 and "[1] " in text.output and "plan-excerpt.md:" in text.output
    data = json.loads(run("search", "合作区总面积有多大？", "-k", "2", "--json").output)
    assert len(data["passages"]) == 2 and any("3.89平方公里" in p["text"] for p in data["passages"])
    only = json.loads(run("search", "合作区总面积", "--source", "policy-excerpt.md", "--json").output)
    assert only["passages"] and {p["source"] for p in only["passages"]} == {"policy-excerpt.md"}


def test_search_filters_on_lifecycle_status_and_scope(indexed: Settings) -> None:
    # The tiny sources carry no dates or scope: every passage is "undated" and none has a scope.
    undated = json.loads(run("search", "合作区总面积", "--status", "undated", "--json").output)
    assert undated["passages"]
    assert json.loads(run("search", "合作区总面积", "--status", "expired", "--json").output)["passages"] == []
    assert json.loads(run("search", "合作区总面积", "--scope", "香港园区", "--json").output)["passages"] == []
    for option, value in (("--status", "valid"), ("--scope", "hk")):
        bad = CliRunner().invoke(cli, ["search", "面积", option, value])
        assert bad.exit_code == 2 and f"unknown {option[2:]} {value!r}" in bad.stderr


def test_eval_applies_status_filters(indexed: Settings, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "a", "question": "合作区总面积有多大？", "lang": "zh-Hans",
                                     "answerable": True, "facts": [["3.89"]], "split": "check"},
                                    ensure_ascii=False) + "\n", encoding="utf-8")
    for status, coverage in (("undated", 1.0), ("expired", 0.0)):
        out = tmp_path / status
        ok = run("eval", str(questions), "--out", str(out), "--mode", "extractive", "--no-progress",
                 "--status", status)
        assert ok.exit_code == 0, ok.output
        assert json.loads((out / "summary.json").read_text())["overall"]["fact_coverage"] == coverage


def test_ask_prints_the_answer_and_its_sources(indexed: Settings) -> None:
    result = run("ask", "合作区总面积有多大？", "--mode", "extractive")
    assert result.exit_code == 0, result.output
    assert "3.89平方公里" in result.output
    assert "Sources (extractive):" in result.output and "[1] " in result.output


def test_commands_without_an_index_say_what_to_do(env: Settings) -> None:
    for args in (("search", "面积"), ("ask", "面积")):
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code == 1, args
        assert result.stderr.startswith("error: ") and "park-assistant index" in result.stderr
        assert "Traceback" not in result.output + result.stderr


def test_eval_writes_a_report_and_gates(indexed: Settings, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "a", "question": "合作区总面积有多大？", "lang": "zh-Hans",
                                     "answerable": True, "facts": [["3.89"]], "split": "check"},
                                    ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    ok = run("eval", str(questions), "--out", str(out), "--mode", "extractive", "--no-progress",
             "--min", "fact_coverage=1.0")
    assert ok.exit_code == 0, ok.output
    assert (out / "report.html").exists() and json.loads((out / "summary.json").read_text())["overall"]["n"] == 1
    failed = run("eval", str(questions), "--out", str(tmp_path / "run2"), "--mode", "extractive", "--no-progress",
                 "--max", "latency_p50_ms=0")
    assert failed.exit_code == 2 and "gate failed" in failed.output + failed.stderr


def test_gaps_export_writes_an_eval_file_to_label(env: Settings, tmp_path: Path) -> None:
    from assistant.evaluation.questions import load_questions
    from assistant.web.questions import QuestionLog

    log = QuestionLog(env.feedback_db)
    for question, answerable, confidence in (("河套的GDP是多少？", False, 0.1), ("河套的GDP是多少？", False, 0.2),
                                             ("合作区面积多大？", True, 0.9), ("口岸有几个？", True, 0.3)):
        log.record(question, lang="zh-Hans", answerable=answerable, confidence=confidence, mode="extractive",
                   build="b1")
    out = tmp_path / "gaps.jsonl"
    result = run("gaps", "export", "--out", str(out))
    assert result.exit_code == 0 and "2 question(s)" in result.output, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["question"], r["count"]) for r in rows] == [("河套的GDP是多少？", 2), ("口岸有几个？", 1)]
    assert [q.question for q in load_questions(out)] == ["河套的GDP是多少？", "口岸有几个？"]  # a valid eval file
    assert run("gaps", "export", "--all", "--out", str(out)).exit_code == 0
    assert len(load_questions(out)) == 4


def test_serve_passes_host_and_port(env: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr("assistant.wiring.live_assistant", lambda settings: "the live assistant")
    monkeypatch.setattr("assistant.wiring.admin_tools", lambda settings: None)
    monkeypatch.setattr("assistant.web.server.serve",
                        lambda settings, assistant, admin=None: seen.update(host=settings.host, port=settings.port,
                                                                            to=assistant))
    result = run("serve", "--host", "127.0.0.2", "--port", "8123")
    assert result.exit_code == 0 and seen == {"host": "127.0.0.2", "port": 8123, "to": "the live assistant"}
    bad = CliRunner().invoke(cli, ["serve", "--port", "eighty"])
    assert bad.exit_code == 2 and "eighty" in bad.output + bad.stderr


def test_llm_refuses_a_model_file_that_is_not_a_gguf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"PK\3\4 not a model")
    monkeypatch.setenv("PARK_LOCAL_MODEL", str(bad))
    result = CliRunner().invoke(cli, ["llm"])
    assert result.exit_code != 0 and "is not a GGUF file" in result.output and "Traceback" not in result.output
