"""Backpressure in front of the chat model: one time budget per request, a bounded queue for the model's
slots, and a circuit breaker.

A request gets one :class:`Deadline` when it arrives; condensing a follow-up, waiting for a slot and
generating all spend from it. :class:`ModelGate` lets ``slots`` calls run at once and at most ``max_waiting``
wait; a call whose expected wait (the queue ahead times the recent call time) or actual wait would pass
``max_wait_s`` or the deadline is refused at once with :class:`ModelBusy`. :class:`CircuitBreaker` opens
after ``failures`` failures in a row and then refuses calls (:class:`CircuitOpen`) for ``cooldown_s``, after
which one trial call is let through. Both refusals are :class:`~assistant.errors.LLMError`: the answer is
the quoted one, with a notice.

>>> gate = ModelGate(slots=1, max_waiting=4, max_wait_s=5.0)
>>> model = GuardedChatModel(FakeChatModel(["ok [1]"]), gate)          # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from assistant.data import Message, Usage
from assistant.errors import LLMError

if TYPE_CHECKING:
    from assistant.answering.llm import ChatModel


class ModelBusy(LLMError):
    """Every model slot is taken and the wait would be too long."""


class CircuitOpen(LLMError):
    """The model failed repeatedly; it is skipped for a while."""


class BudgetExceeded(LLMError):
    """The request's time budget ran out while the model was answering."""


class Deadline:
    """The time left to one request (``math.inf`` seconds for no limit)."""

    def __init__(self, seconds: float = math.inf, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - self.clock())

    @property
    def expired(self) -> bool:
        return self.clock() >= self.end


class CircuitBreaker:
    """Closed → open after ``failures`` consecutive failures; open → one trial after ``cooldown_s``."""

    def __init__(self, failures: int = 3, cooldown_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.cooldown_s = cooldown_s
        self.clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if self.clock() - self._opened_at >= self.cooldown_s else "open"

    def allow(self) -> bool:
        """May a call go to the model now? In half-open state only one trial call at a time."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self.clock() - self._opened_at < self.cooldown_s or self._trial:
                return False
            self._trial = True
            return True

    def success(self) -> None:
        with self._lock:
            self._consecutive, self._opened_at, self._trial = 0, None, False

    def abandon(self) -> None:
        """A call that :meth:`allow` let through did not reach the model (refused by the queue)."""
        with self._lock:
            self._trial = False

    def failure(self) -> None:
        with self._lock:
            self._consecutive += 1
            self._trial = False
            if self._opened_at is not None or self._consecutive >= self.failures:
                self._opened_at = self.clock()


class ModelGate:
    """``slots`` concurrent model calls, at most ``max_waiting`` queued, none waiting past ``max_wait_s``."""

    def __init__(self, slots: int = 1, max_waiting: int = 8, max_wait_s: float = 10.0,
                 breaker: CircuitBreaker | None = None) -> None:
        self.slots = slots
        self.max_waiting = max_waiting
        self.max_wait_s = max_wait_s
        self.breaker = breaker or CircuitBreaker()
        self._sem = threading.Semaphore(slots)
        self._lock = threading.Lock()
        self._waiting = 0
        self._busy = 0
        self._call_s = 0.0  # moving average of recent call times: the expected wait of each queued call
        self.refused = 0

    def stats(self) -> dict[str, object]:
        with self._lock:
            return {"slots": self.slots, "busy": self._busy, "waiting": self._waiting, "refused": self.refused,
                    "breaker": self.breaker.state, "call_s": round(self._call_s, 2)}

    def _refuse(self, exc: LLMError) -> LLMError:
        with self._lock:
            self.refused += 1
        return exc

    def _busy_refusal(self, reason: str) -> LLMError:
        self.breaker.abandon()
        return self._refuse(ModelBusy(reason))

    @contextmanager
    def slot(self, deadline: Deadline) -> Iterator[float]:
        """Hold a model slot for the ``with`` block; yields the seconds waited for it."""
        if not self.breaker.allow():
            raise self._refuse(CircuitOpen("the chat model failed repeatedly and is skipped for a while"))
        limit = min(self.max_wait_s, deadline.remaining())
        with self._lock:
            ahead = self._waiting + self._busy - self.slots + 1
            expected = max(0, ahead) / self.slots * self._call_s
            full = self._waiting >= self.max_waiting or (ahead > 0 and expected > limit)
            if not full:
                self._waiting += 1
        if full:
            raise self._busy_refusal(f"the chat model is busy ({self._busy} answering, {self._waiting} waiting, "
                                     f"expected wait {expected:.1f}s, limit {limit:.1f}s)")
        t0 = time.monotonic()
        got = self._sem.acquire(timeout=limit)
        waited = time.monotonic() - t0
        with self._lock:
            self._waiting -= 1
            if got:
                self._busy += 1
        if not got:
            raise self._busy_refusal(f"no chat model slot became free within {limit:.1f}s")
        t1 = time.monotonic()
        try:
            yield waited
        finally:
            took = time.monotonic() - t1
            with self._lock:
                self._busy -= 1
                self._call_s = took if self._call_s == 0 else 0.7 * self._call_s + 0.3 * took
            self._sem.release()


class GuardedChatModel:
    """A :class:`~assistant.answering.llm.ChatModel` behind a :class:`ModelGate`: queued, time-boxed, and
    skipped while its circuit breaker is open."""

    def __init__(self, inner: ChatModel, gate: ModelGate) -> None:
        self.inner = inner
        self.gate = gate
        self.name = inner.name

    def stream(self, messages: Sequence[Message], *, max_tokens: int | None = None,
               timeout_s: float | None = None) -> Iterator[str | Usage]:
        deadline = Deadline(timeout_s if timeout_s is not None else math.inf)
        with self.gate.slot(deadline) as waited:
            try:
                for event in self.inner.stream(messages, max_tokens=max_tokens, timeout_s=_finite(deadline)):
                    if deadline.expired:
                        raise BudgetExceeded("the chat model did not finish within the request's time budget")
                    yield dataclasses.replace(event, queue_s=round(waited, 3)) if isinstance(event, Usage) else event
            except LLMError:
                self.gate.breaker.failure()
                raise
            self.gate.breaker.success()


def _finite(deadline: Deadline) -> float | None:
    left = deadline.remaining()
    return None if math.isinf(left) else left
