"""The calibrated answerability model: fitting (numpy logistic regression, cross-validated), the shipped
artifact, and the evidence judge that uses it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.answering.answerability import (
    ARTIFACT,
    OFF_TOPIC_MAX_FALSE_DECLINES,
    AnswerabilityModel,
    cross_validated,
    fit_logistic,
    fit_model,
)
from assistant.answering.evidence import FEATURES
from assistant.wiring import answerability_model


def _data(n: int = 200, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = (rng.random(n) < 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0 * x[:, 1])))).astype(float)
    return x, y


def test_logistic_fit_recovers_the_direction_of_the_signal() -> None:
    x, y = _data(2000)
    coef, intercept = fit_logistic(x, y, c=100.0)
    assert coef[0] == pytest.approx(2.0, abs=0.3) and coef[1] == pytest.approx(-1.0, abs=0.3)
    assert abs(intercept) < 0.3
    small, _ = fit_logistic(x, y, c=0.001)  # a strong penalty shrinks the weights
    assert np.all(np.abs(small) < np.abs(coef) / 5)


def test_cross_validated_probabilities_are_out_of_fold_and_informative() -> None:
    x, y = _data()
    p = cross_validated(x, y, c=1.0)
    assert p.shape == y.shape and np.all((p > 0) & (p < 1))
    assert p[y == 1].mean() > p[y == 0].mean() + 0.2


def test_fit_model_chooses_c_and_threshold_and_round_trips(tmp_path: Path) -> None:
    x, y = _data()
    model = fit_model(x, y, ("a", "b"), meta={"split": "tune"})
    cv = model.meta["cv"]
    assert cv["c"] in (0.1, 0.3, 1.0, 3.0, 10.0) and 0.2 <= model.threshold <= 0.8
    assert cv["balanced_accuracy"] > 0.7 and model.meta["n"] == 200 and model.meta["split"] == "tune"
    assert model.probability({"a": 2.0, "b": -1.0}) > 0.9 > 0.1 > model.probability({"a": -2.0, "b": 1.0})
    # The lenient threshold: below the strict one, few answerable questions under it (cross-validated).
    assert model.off_topic_threshold is not None and 0 < model.off_topic_threshold < model.threshold
    assert cv["off_topic"]["false_decline_rate"] <= OFF_TOPIC_MAX_FALSE_DECLINES < cv["false_decline_rate"]
    assert cv["off_topic"]["decline_accuracy"] < cv["decline_accuracy"]
    model.save(tmp_path / "m.json")
    again = AnswerabilityModel.load(tmp_path / "m.json")
    assert again == model
    data = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    (tmp_path / "old.json").write_text(json.dumps({**data, "format": 0}), encoding="utf-8")
    with pytest.raises(ValueError, match="refit"):
        AnswerabilityModel.load(tmp_path / "old.json")


def test_questions_a_rule_declines_anyway_count_as_declined_when_choosing_the_threshold() -> None:
    # Unanswerable questions that look answerable (high in feature a) but that the missing-detail rule
    # declines whatever their probability: the threshold is chosen, and scored, with them declined.
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 2))
    y = (rng.random(300) < 1 / (1 + np.exp(-3.0 * x[:, 0]))).astype(float)
    lookalikes = np.column_stack([rng.normal(1.0, 0.2, 20), rng.normal(0.0, 0.3, 20)])
    x, y = np.vstack([x, lookalikes]), np.concatenate([y, np.zeros(20)])
    forced = np.concatenate([np.zeros(300, dtype=bool), np.ones(20, dtype=bool)])
    plain = fit_model(x, y, ("a", "b"))
    ruled = fit_model(x, y, ("a", "b"), forced=forced)
    assert ruled.threshold <= plain.threshold
    assert ruled.meta["cv"]["balanced_accuracy"] > plain.meta["cv"]["balanced_accuracy"] + 0.03
    assert ruled.meta["cv"]["decline_accuracy"] > plain.meta["cv"]["decline_accuracy"]


def test_the_shipped_artifact_is_fitted_on_tune_with_the_features_the_judge_computes() -> None:
    model = AnswerabilityModel.load(ARTIFACT)
    # Every labelled question not held back for reporting: the dev set's tune split and the team's own set.
    assert model.features == FEATURES and model.meta["split"] == "tune+team"
    assert set(model.meta["questions"]) == {"dev.jsonl", "newuser.jsonl"}
    assert model.meta["n"] > 100 and 0.2 <= model.threshold <= 0.8
    assert model.off_topic_threshold is not None and model.off_topic_threshold < model.threshold
    assert "fit_answerability.py" in model.meta["refit"]
    # Only for the embedder whose cosines it was fitted on; another embedder falls back to coverage.
    assert answerability_model(model.meta["embedder"]) == model
    assert answerability_model("fake") is None


@pytest.mark.slow
def test_the_refit_script_fits_the_artifact_from_a_questions_file(tmp_path: Path) -> None:
    """scripts/fit_answerability.py end to end over a built index: it must keep working as answering changes
    (it computes the features exactly as answering does); the check split is refused."""
    import os
    import subprocess
    import sys

    from support import REPO, make_tiny_settings

    from assistant.wiring import build_indexer

    settings = make_tiny_settings(tmp_path)
    build_indexer(settings).build()
    rows = [("河套合作区总面积有多大？", True), ("深圳园区实行什么管理模式？", True), ("深圳园区有多大？", True),
            ("How large is the zone in total?", True), ("合作区面积是多少平方公里？", True),
            ("帮我写一首关于春天的诗。", False), ("河套合作区2024年的GDP是多少？", False),
            ("What is the capital of France?", False), ("明天深圳会下雨吗？", False), ("推荐一家火锅店。", False)]
    team = [("深圳园区的管理模式是怎样的？", True), ("推荐一部电影。", False)]
    held = [("Where is the Hong Kong Park?", True)]

    def write(name: str, items: list[tuple[str, bool]], split: str) -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps({"id": f"{split}{i}", "question": q, "answerable": a, "split": split,
                                            "lang": "en" if q.isascii() else "zh-Hans"}, ensure_ascii=False) + "\n"
                                for i, (q, a) in enumerate(items)), encoding="utf-8")
        return path

    questions = write("q.jsonl", rows, "tune")
    extra = tmp_path / "extra.jsonl"
    both = write("t.jsonl", team, "team").read_text("utf-8") + write("c.jsonl", held, "check").read_text("utf-8")
    extra.write_text(both, encoding="utf-8")
    env = {**os.environ, "PARK_INDEX_DIR": str(settings.index_dir), "PARK_LOCAL_MODEL": "off",
           "PARK_MODE": "extractive"}
    script = str(REPO / "scripts" / "fit_answerability.py")
    out = tmp_path / "model.json"
    done = subprocess.run([sys.executable, script, str(questions), str(extra), "--out", str(out)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    model = AnswerabilityModel.load(out)
    # By default tune and team questions from every file; the check split is never fitted on.
    assert model.features == FEATURES and model.meta["n"] == len(rows) + len(team)
    assert model.meta["split"] == "tune+team" and set(model.meta["questions"]) == {"q.jsonl", "extra.jsonl"}
    only_tune = subprocess.run([sys.executable, script, str(questions), str(extra), "--split", "tune", "--out",
                                str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert only_tune.returncode == 0, only_tune.stderr
    assert AnswerabilityModel.load(out).meta["n"] == len(rows)
    refused = subprocess.run([sys.executable, script, str(questions), "--split", "check", "--out", str(out)],
                             env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "fit on tune" in refused.stderr


def test_english_words_no_entry_reaches_count_as_not_covered(tmp_path: Path) -> None:
    """``covered``: a question about zorbing in Hong Kong covers Hong Kong and nothing else; the term coverage
    alone counts only the words the glossary reaches, and would call it fully covered."""
    from support import make_fake_index

    from assistant.testing import FakeEmbedder
    from assistant.wiring import build_assistant

    source = tmp_path / "park.md"
    source.write_text("# 测试园区\n\n## 位置\n\n- 测试园区位于香港，毗邻深圳。\n", encoding="utf-8")
    assistant = build_assistant(make_fake_index(tmp_path / "index", source), embedder=FakeEmbedder())

    def features(question: str) -> tuple[dict[str, float], float]:
        query = assistant.parser.parse(question)
        found = assistant.retriever.search(query, 3)
        return assistant.judge.assess(query, list(found.passages), found.vectors).features, query.unmatched

    plain, none = features("Is the park in Hong Kong?")
    odd, some = features("Where can we go zorbing and snorkelling in Hong Kong?")
    assert none == 0 and plain["covered"] == plain["coverage"]
    assert some > 0 and odd["covered"] == pytest.approx(odd["coverage"] * (1 - some))
    assert odd["covered"] < odd["coverage"] and odd["covered"] < plain["covered"]
