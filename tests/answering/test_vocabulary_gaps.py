"""scripts/vocabulary_gaps.py end to end over the tiny index: the words questions use that the vocabulary does
not reach, counted over .jsonl and text files and the server's stored questions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO, make_tiny_settings

SCRIPT = str(REPO / "scripts" / "vocabulary_gaps.py")


@pytest.mark.slow
def test_the_words_no_entry_reaches_are_counted_with_an_example(tmp_path: Path) -> None:
    from assistant.web.questions import QuestionLog
    from assistant.wiring import build_indexer

    settings = make_tiny_settings(tmp_path)
    build_indexer(settings).build()  # the configured embedder, as the script builds the assistant with it
    asked = tmp_path / "asked.jsonl"
    asked.write_text("".join(json.dumps({"id": str(i), "question": q}, ensure_ascii=False) + "\n" for i, q in
                             enumerate(["Is snorkelling allowed in the Shenzhen Park?", "合作区附近有火锅店吗？"])),
                     encoding="utf-8")
    plain = tmp_path / "more.txt"
    plain.write_text("Where can I go snorkelling near the Hong Kong Park?\n", encoding="utf-8")
    QuestionLog(settings.feedback_db).record("snorkelling gear rental?", lang="en", answerable=False,
                                             confidence=0.1, mode="decline", build=None, channel="api")
    env = {**os.environ, "PARK_INDEX_DIR": str(settings.index_dir), "PARK_FEEDBACK_DB": str(settings.feedback_db),
           "PARK_LOCAL_MODEL": "off", "PARK_MODE": "extractive"}
    done = subprocess.run([sys.executable, SCRIPT, str(asked), str(plain), "--log"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("4 questions")
    counts = {line.split()[1]: int(line.split()[0]) for line in lines[1:]}
    assert counts["snorkelling"] == 3 and counts["火锅店"] == 1  # from the files and the stored question
    assert "park" not in counts and "shenzhen" not in counts  # the glossary reaches them
    nothing = subprocess.run([sys.executable, SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert nothing.returncode == 2 and "no questions" in nothing.stderr
