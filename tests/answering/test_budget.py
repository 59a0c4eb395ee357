"""Backpressure: the bounded queue, the circuit breaker and one time budget per request (fast, fake models)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from support import make_tiny_settings

from assistant.answering.budget import CircuitBreaker, CircuitOpen, Deadline, GuardedChatModel, ModelBusy, ModelGate
from assistant.config import Settings
from assistant.data import Message
from assistant.errors import LLMError
from assistant.messages import text as message
from assistant.testing import FakeChatModel, FakeEmbedder, SlowChatModel
from assistant.wiring import build_assistant, build_indexer

AREA_Q = "河套合作区总面积有多大？"
HELLO = [Message("user", "你好")]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    s = make_tiny_settings(tmp_path_factory.mktemp("budget"))
    build_indexer(s, FakeEmbedder()).build()
    return s


def test_breaker_opens_after_repeated_failures_and_lets_one_trial_through_after_the_cooldown() -> None:
    clock = Clock()
    inner = FakeChatModel(fail=True)
    model = GuardedChatModel(inner, ModelGate(breaker=CircuitBreaker(failures=2, cooldown_s=30, clock=clock)))
    for _ in range(2):
        with pytest.raises(LLMError, match="set to fail"):
            list(model.stream(HELLO))
    with pytest.raises(CircuitOpen):
        list(model.stream(HELLO))
    assert len(inner.requests) == 2  # the open breaker did not call the model
    clock.now = 31
    inner.fail = False
    assert list(model.stream(HELLO))[:1] == ["[1]"]  # the trial call succeeds: closed again
    assert model.gate.breaker.state == "closed"


def test_a_failed_trial_opens_the_breaker_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown_s=10, clock=clock)
    breaker.failure()
    assert not breaker.allow()
    clock.now = 11
    assert breaker.allow() and not breaker.allow()  # one trial at a time
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()


def test_queue_refuses_at_once_when_full_and_when_the_wait_would_be_too_long() -> None:
    gate = ModelGate(slots=1, max_waiting=1, max_wait_s=0.3)
    model = GuardedChatModel(SlowChatModel(delay_s=1.0), gate)
    holder = threading.Thread(target=lambda: list(model.stream(HELLO)))
    holder.start()
    time.sleep(0.2)  # the slot is taken
    t0 = time.monotonic()
    with pytest.raises(ModelBusy, match="no chat model slot became free"):
        list(model.stream(HELLO))  # waits up to max_wait_s, no longer
    assert time.monotonic() - t0 < 0.8
    holder.join()
    # Now the gate knows a call takes ~1 s: a caller behind a busy slot is refused without waiting.
    holder = threading.Thread(target=lambda: list(model.stream(HELLO)))
    holder.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    with pytest.raises(ModelBusy, match="expected wait"):
        list(model.stream(HELLO))
    assert time.monotonic() - t0 < 0.1
    holder.join()
    assert gate.stats()["refused"] == 2 and gate.breaker.state == "closed"  # busy is not a model failure


def test_deadline_caps_the_model_call() -> None:
    slow = SlowChatModel(delay_s=5.0)
    model = GuardedChatModel(slow, ModelGate())
    t0 = time.monotonic()
    with pytest.raises(LLMError):
        list(model.stream(HELLO, timeout_s=0.3))
    assert time.monotonic() - t0 < 1.5 and slow.timeouts[0] is not None and slow.timeouts[0] <= 0.3
    assert Deadline(10).remaining() > 9 and Deadline(0).expired


def test_busy_model_gives_the_quoted_answer_with_a_busy_notice(settings: Settings) -> None:
    gate = ModelGate(slots=1, max_waiting=0, max_wait_s=0.1)
    slow = GuardedChatModel(SlowChatModel("合作区共约3.89平方公里[1]。", delay_s=1.5), gate)
    assistant = build_assistant(settings, embedder=FakeEmbedder(), chat_model=slow)
    first = threading.Thread(target=assistant.answer, args=(AREA_Q,))
    first.start()
    time.sleep(0.4)
    t0 = time.monotonic()
    answer = assistant.answer(AREA_Q)
    assert time.monotonic() - t0 < 1.0
    assert answer.mode == "extractive" and answer.notice == message("note.busy", "zh-Hans") and "3.89" in answer.text
    first.join()


def test_condensation_and_answer_share_one_time_budget(settings: Settings) -> None:
    slow = SlowChatModel("合作区共约3.89平方公里[1]。", delay_s=5.0)
    assistant = build_assistant(settings.with_(request_budget_s=1.0), embedder=FakeEmbedder(),
                                chat_model=GuardedChatModel(slow, ModelGate()))
    history = [Message("user", "深圳园区有多大？"), Message("assistant", "3.02平方公里[1]。")]
    t0 = time.monotonic()
    answer = assistant.answer("那整个合作区呢？", history)
    took = time.monotonic() - t0
    # Condensing spent the whole budget; the answer call got what was left (nothing) and the quotes came.
    assert took < 2.5, f"{took:.1f}s for a 1 s budget"
    assert len(slow.timeouts) == 2 and slow.timeouts[0] is not None and slow.timeouts[0] <= 1.0
    assert slow.timeouts[1] is not None and slow.timeouts[1] < 0.2
    assert answer.mode == "extractive" and answer.notice == message("note.fallback", "zh-Hans")


class TricklingChatModel:
    """A model that answers at once and then keeps writing, a piece every ``every_s``: no single wait is long, so only
    the request's time budget can stop it."""

    name = "trickling-llm"

    def __init__(self, pieces: int = 60, every_s: float = 0.1) -> None:
        self.pieces, self.every_s = pieces, every_s

    def stream(self, messages: list[Message], *, max_tokens: int | None = None,
               timeout_s: float | None = None) -> Iterator[str]:
        for _ in range(self.pieces):
            time.sleep(self.every_s)
            yield "合作区共约3.89平方公里[1]。"


def test_a_model_still_writing_when_the_budget_runs_out_is_cut_off_and_the_answer_quoted(settings: Settings) -> None:
    model = GuardedChatModel(TricklingChatModel(), ModelGate())
    assistant = build_assistant(settings.with_(request_budget_s=1.0), embedder=FakeEmbedder(), chat_model=model)
    t0 = time.monotonic()
    answer = assistant.answer(AREA_Q)
    took = time.monotonic() - t0
    assert took < 3.0, f"{took:.1f}s for a 1 s budget: the model wrote on past it"
    assert answer.mode == "extractive" and answer.notice == message("note.fallback", "zh-Hans")
    assert "3.89" in answer.text


def test_the_wait_for_a_model_slot_is_reported_in_the_answers_usage_and_timings(settings: Settings) -> None:
    gate = ModelGate(slots=1, max_waiting=2, max_wait_s=5.0)
    slow = GuardedChatModel(SlowChatModel("合作区共约3.89平方公里[1]。", delay_s=0.8), gate)
    assistant = build_assistant(settings, embedder=FakeEmbedder(), chat_model=slow)
    answers = []
    first = threading.Thread(target=lambda: answers.append(assistant.answer(AREA_Q)))
    first.start()
    time.sleep(0.3)  # the first holds the slot
    second = assistant.answer(AREA_Q)
    first.join()
    assert second.mode == "llm" and 0.2 < second.usage.queue_s < 2.0
    assert second.timings_ms["queue_wait"] == pytest.approx(second.usage.queue_s * 1000)
    assert answers[0].usage.queue_s < 0.1 and "queue_wait" not in answers[0].timings_ms
