"""Calibrated answerability: a logistic regression over evidence features, fitted on the dev set's ``tune``
split and shipped as a versioned JSON artifact (``answerability.json`` beside this module).

``scripts/fit_answerability.py`` refits it: features of every tune question are computed by the same code
the assistant runs (:meth:`assistant.answering.evidence.EvidenceJudge.features`), the regularisation
strength is chosen by repeated stratified cross-validation (log-loss), and the decision threshold by the
balanced accuracy of the cross-validated probabilities. Plain numpy (Newton steps on an L2-penalised
log-likelihood): fourteen lines, no new dependency.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ARTIFACT = Path(__file__).with_name("answerability.json")
FORMAT = 1


@dataclass(frozen=True)
class AnswerabilityModel:
    """``P(answerable) = σ(coef · (x − mean) / scale + intercept)``; answer when it reaches ``threshold``."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)
    #: The lenient threshold for when a chat model answers: below it the question is clearly off-topic and
    #: declined before the model sees it; above it the model itself may decline (``NO_ANSWER``). None: the
    #: artifact predates it, and ``threshold`` is used.
    off_topic_threshold: float | None = None

    def probability(self, values: Mapping[str, float]) -> float:
        """The calibrated probability that the sources answer, from the named feature values."""
        x = np.array([values[f] for f in self.features], dtype=float)
        z = float(np.dot(self.coef, (x - np.array(self.mean)) / np.array(self.scale)) + self.intercept)
        return float(1.0 / (1.0 + np.exp(-z)))

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "features": list(self.features), "mean": list(self.mean),
                "scale": list(self.scale), "coef": list(self.coef), "intercept": self.intercept,
                "threshold": self.threshold, "off_topic_threshold": self.off_topic_threshold, "meta": self.meta}

    def save(self, path: Path = ARTIFACT) -> None:
        path.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = ARTIFACT) -> AnswerabilityModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"{path}: answerability model format {data.get('format')!r}, expected {FORMAT} — "
                             "refit it with scripts/fit_answerability.py")
        return cls(tuple(data["features"]), tuple(data["mean"]), tuple(data["scale"]), tuple(data["coef"]),
                   float(data["intercept"]), float(data["threshold"]), dict(data.get("meta", {})),
                   _optional_float(data.get("off_topic_threshold")))


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float, iterations: int = 50) -> tuple[np.ndarray, float]:
    """Weights and intercept of an L2-penalised (strength 1/c, intercept free) logistic regression."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    penalty = np.eye(d + 1) / c
    penalty[-1, -1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        hessian = xb.T @ (xb * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, xb.T @ (p - y) + penalty @ w)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w[:-1], float(w[-1])


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(axis=0), x.std(axis=0) + 1e-9


def cross_validated(x: np.ndarray, y: np.ndarray, c: float, folds: int = 5, repeats: int = 5,
                    seed: int = 0) -> np.ndarray:
    """Out-of-fold probabilities, averaged over ``repeats`` stratified ``folds``-fold splits."""
    out = np.zeros(len(y))
    rng = np.random.default_rng(seed)
    for _ in range(repeats):
        fold_of = np.empty(len(y), dtype=int)
        for label in (0, 1):  # stratified: each fold gets its share of both classes
            idx = rng.permutation(np.flatnonzero(y == label))
            fold_of[idx] = np.arange(len(idx)) % folds
        for k in range(folds):
            test, train = fold_of == k, fold_of != k
            mean, scale = _standardise(x[train])
            coef, intercept = fit_logistic((x[train] - mean) / scale, y[train], c)
            out[test] += 1.0 / (1.0 + np.exp(-(((x[test] - mean) / scale) @ coef + intercept)))
    return out / repeats


#: The lenient (LLM-mode) threshold keeps the cross-validated false-decline rate at or below this: with a chat
#: model that can decline by itself, only questions the evidence clearly does not touch are declined up front.
OFF_TOPIC_MAX_FALSE_DECLINES = 0.02


def fit_model(x: np.ndarray, y: np.ndarray, features: Sequence[str], *,
              cs: Sequence[float] = (0.1, 0.3, 1.0, 3.0, 10.0), meta: Mapping[str, Any] | None = None,
              forced: np.ndarray | None = None) -> AnswerabilityModel:
    """Choose C by cross-validated log-loss, the threshold by cross-validated balanced accuracy (smoothed), the
    off-topic threshold as the highest whose cross-validated false-decline rate is at most
    :data:`OFF_TOPIC_MAX_FALSE_DECLINES`, and fit the final model on all of ``x``. ``meta`` is stored with it,
    plus the cross-validation figures. ``forced``: the questions the strict verdict declines whatever the
    probability (a date or year asked that no quote states; see :class:`~assistant.answering.evidence.Evidence`):
    the threshold is chosen for the rest."""
    losses = {}
    for c in cs:
        p = np.clip(cross_validated(x, y, c), 1e-6, 1 - 1e-6)
        losses[c] = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    best_c = min(losses, key=lambda c: losses[c])
    p = cross_validated(x, y, best_c)
    grid = np.round(np.arange(0.2, 0.81, 0.01), 2)

    declined_anyway = np.zeros(len(y), dtype=bool) if forced is None else np.asarray(forced, dtype=bool)

    def balanced(t: float) -> float:
        answered = (p >= t) & ~declined_anyway
        return float((np.mean(answered[y == 1]) + np.mean(~answered[y == 0])) / 2)

    # The curve is flat and jagged near its top on ~100 questions: pick the best of its moving average
    # (±0.05), not one lucky point.
    smooth = {float(t): float(np.mean([balanced(u) for u in grid if abs(u - t) <= 0.05])) for t in grid}
    threshold = max(smooth, key=lambda t: (round(smooth[t], 6), -abs(t - 0.5)))
    lenient = [float(t) for t in np.round(np.arange(0.01, threshold + 0.001, 0.01), 2)
               if np.mean(p[y == 1] < t) <= OFF_TOPIC_MAX_FALSE_DECLINES]
    off_topic = max(lenient, default=0.0)
    mean, scale = _standardise(x)
    coef, intercept = fit_logistic((x - mean) / scale, y, best_c)
    cv = {"c": best_c, "log_loss": {str(c): round(v, 4) for c, v in losses.items()},
          "balanced_accuracy": round(balanced(threshold), 4),
          "decline_accuracy": round(float(np.mean(((p < threshold) | declined_anyway)[y == 0])), 4),
          "false_decline_rate": round(float(np.mean(((p < threshold) | declined_anyway)[y == 1])), 4),
          "off_topic": {"decline_accuracy": round(float(np.mean(p[y == 0] < off_topic)), 4),
                        "false_decline_rate": round(float(np.mean(p[y == 1] < off_topic)), 4)}}
    return AnswerabilityModel(tuple(features), tuple(np.round(mean, 6).tolist()), tuple(np.round(scale, 6).tolist()),
                              tuple(np.round(coef, 6).tolist()), round(intercept, 6), threshold,
                              {**(meta or {}), "n": len(y), "n_answerable": int(y.sum()), "cv": cv}, off_topic)
