"""LLM-judged evaluation metrics: RAGAS-style faithfulness and answer correctness.

:func:`assistant.evaluation.evaluate.run_eval` scores every answer with a :class:`Judge` when one is passed in
(``park-assistant eval --judge``); every other metric is string matching and lives in
:mod:`assistant.evaluation.evaluate`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from assistant.answering.llm import ChatModel, collect
from assistant.answering.prompts import Prompts
from assistant.data import Answer, Message
from assistant.errors import LLMError
from assistant.evaluation.questions import Question
from assistant.lang import normalize_for_match
from assistant.text.markers import strip_markers


class Judge:
    """RAGAS-style faithfulness and answer correctness, judged by any :class:`~assistant.answering.llm.ChatModel`.

    * ``faithfulness`` = supported claims / all claims of the answer. ``prompts/judge_claims.txt`` splits the
      answer into claims (at most ``max_claims``); ``prompts/judge_verdict.txt`` checks each against the
      passages the answer cites (:func:`reference`, cut at ``max_context_chars``) (1/0). An answer with no
      claims (e.g. a declined one) gets ``None``.
    * ``answer_correctness`` = ``weights[0]·F1 + weights[1]·similarity`` (RAGAS defaults 0.75/0.25), where
      TP = answer claims the ground truth supports, FP = answer claims it does not, FN = ground-truth facts
      (one statement per fact group: "question — alternatives joined by or") the answer does not support, and
      F1 = TP / (TP + (FP + FN) / 2). ``similarity`` defaults to the cosine of character bigrams (offline;
      RAGAS uses embeddings, so pass an embedding-based one for fidelity).

    Every verdict is its own call with one statement after the reference, answered yes or no: a small model
    asked for a list of verdicts loses count of the statements, and with the reference first a llama.cpp
    server reuses its cached prompt for every statement after the first.

    Only answerable questions are judged. Model failures and unparseable replies raise :class:`LLMError`.
    Every call is capped (``max_tokens`` for the claims, a few tokens for a verdict): a small local model reads
    about 70 prompt tokens a second, so what the judge reads is what it costs.

    >>> judge = Judge(FakeChatModel(['["面积约3.89平方公里"]', "yes"]), Prompts(Path("prompts")))  # doctest: +SKIP
    """

    def __init__(self, chat: ChatModel, prompts: Prompts, *, similarity: Callable[[str, str], float] | None = None,
                 weights: tuple[float, float] = (0.75, 0.25), max_context_chars: int = 2500,
                 max_claims: int = 8, max_tokens: int = 256) -> None:
        self.chat = chat
        self.prompts = prompts
        self.similarity = similarity or bigram_similarity
        self.weights = weights
        self.max_context_chars = max_context_chars
        self.max_claims = max_claims
        self.max_tokens = max_tokens

    @property
    def name(self) -> str:
        return self.chat.name

    def judge(self, q: Question, answer: Answer) -> dict[str, float | None]:
        """``{"faithfulness": …, "answer_correctness": …}`` for one answer (``None`` where not applicable)."""
        if not q.answerable:
            return {"faithfulness": None, "answer_correctness": None}
        text = strip_markers(answer.text).strip()
        claims = self._claims(q.question, text) if answer.answerable and text else []
        context = reference(answer)
        faithfulness = None
        if claims:
            verdicts = self._verdicts(claims, context[: self.max_context_chars]) if context else [0] * len(claims)
            faithfulness = round(sum(verdicts) / len(verdicts), 4)
        correctness = None
        if q.facts:
            truth = [" or ".join(group) for group in q.facts]
            # The facts are bare values (3.89, 国务院): each is stated as the answer to the question, or a
            # judge shown "3.89" alone cannot tell whether a claim about the zone's area agrees with it.
            stated = [f"{q.question} — {t}" for t in truth]
            tp = sum(self._verdicts(claims, "\n".join(stated))) if claims else 0
            fp = len(claims) - tp
            fn = len(truth) - (sum(self._verdicts(stated, text)) if claims else 0)
            f1 = tp / (tp + (fp + fn) / 2) if tp + fp + fn else 0.0
            sim = self.similarity(text, "；".join(truth)) if text else 0.0
            correctness = round(self.weights[0] * f1 + self.weights[1] * sim, 4)
        return {"faithfulness": faithfulness, "answer_correctness": correctness}

    def _claims(self, question: str, text: str) -> list[str]:
        reply = self._ask(self.prompts.render("judge_claims", question=question, text=text))
        return [c.strip() for c in _json_list(reply) if isinstance(c, str) and c.strip()][: self.max_claims]

    def _verdicts(self, statements: Sequence[str], reference: str) -> list[int]:
        return [_verdict(self._ask(self.prompts.render("judge_verdict", reference=reference, statement=s),
                                   max_tokens=VERDICT_TOKENS))
                for s in statements]

    def _ask(self, prompt: str, max_tokens: int | None = None) -> str:
        return collect(self.chat.stream([Message("user", prompt)], max_tokens=max_tokens or self.max_tokens))[0]


def reference(answer: Answer) -> str:
    """What the answer's claims are checked against: the passages it cites (each once), or all retrieved
    passages when it cites none. The cited ones are what the answer rests on, and far fewer tokens for the
    judge to read than every retrieved passage."""
    cited = {c.chunk_id: c.passage_text or c.quote for c in answer.citations}
    texts = list(cited.values()) or [p.chunk.text for p in answer.passages]
    return "\n\n".join(f"[{i}] {t}" for i, t in enumerate(texts, 1))


def _json_list(reply: str) -> list[Any]:
    start, end = reply.find("["), reply.rfind("]")
    try:
        value = json.loads(reply[start : end + 1]) if 0 <= start < end else None
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list):
        raise LLMError(f"judge model did not answer with a JSON list: {reply[:200]!r}")
    return value


VERDICT_TOKENS = 8  # "yes" or "no", with room for a full stop or a code fence
_YES = ("yes", "1", "true", "supported", "是", "對", "对")
_NO = ("no", "0", "false", "not supported", "unsupported", "否", "不是")


def _verdict(reply: str) -> int:
    """``1`` for a yes, ``0`` for a no; anything else is an :class:`LLMError`.

    >>> _verdict("Yes."), _verdict("`no`"), _verdict("否")
    (1, 0, 0)
    """
    word = reply.strip().strip("`").strip().lower().rstrip(".。!！")
    if word.startswith(_NO):  # "no" before "yes": "not supported" must not read as a yes
        return 0
    if word.startswith(_YES):
        return 1
    raise LLMError(f"judge model gave an unreadable verdict: {reply[:200]!r}")


def bigram_similarity(a: str, b: str) -> float:
    """Cosine similarity of normalised character bigrams: a cheap, offline stand-in for embedding similarity."""
    def grams(text: str) -> Counter[str]:
        t = normalize_for_match(text)
        return Counter(t[i : i + 2] for i in range(len(t) - 1)) or Counter(t)

    ga, gb = grams(a), grams(b)
    dot = sum(n * gb[g] for g, n in ga.items())
    norm = (sum(n * n for n in ga.values()) * sum(n * n for n in gb.values())) ** 0.5
    return round(dot / norm, 4) if norm else 0.0


def agreement(pairs: Sequence[tuple[float, float]], cut: float = 0.5) -> dict[str, float | int | None]:
    """How well the judge's ``answer_correctness`` agrees with the string-matched ``fact_coverage``, over
    ``(correctness, coverage)`` pairs of the same answers: the share on which both say right (≥ ``cut``) or
    both say wrong, and Pearson's r (None when either side does not vary).

    >>> agreement([(0.9, 1.0), (0.2, 0.0), (0.7, 0.0)])
    {'judge_n': 3, 'judge_agreement': 0.6667, 'judge_correlation': 0.7206}
    """
    if not pairs:
        return {}
    agree = sum((c >= cut) == (f >= cut) for c, f in pairs) / len(pairs)
    xs, ys = [c for c, _ in pairs], [f for _, f in pairs]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((x - mx) * (y - my) for x, y in pairs)
    sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
    r = round(sxy / (sxx * syy) ** 0.5, 4) if sxx > 0 and syy > 0 else None
    return {"judge_n": len(pairs), "judge_agreement": round(agree, 4), "judge_correlation": r}
