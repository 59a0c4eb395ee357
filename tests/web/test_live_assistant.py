"""The hand-over between index builds, step by step, over a recording stand-in for the index (the real builds and
chroma are in ``test_reload.py``): a lease before opening, warm before serving, the old build released only when
its last request has ended, a build that fails to open released and the old one kept, a watcher that outlives a
failed look; and ``serve`` starting the watcher, waking it on SIGHUP and believing no forwarded header itself.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Settings
from assistant.data import Answer
from assistant.testing import FAKE_CHUNK, FakeAssistant
from assistant.web.reload import LiveAssistant


class Builds:
    """The index as :class:`LiveAssistant` sees it, recording every call into ``events``."""

    def __init__(self, events: list[str], live: str | None = "b1") -> None:
        self.events, self.live_id = events, live
        self.fail_hold: set[str] = set()
        self.fail_live = self.fail_drop = 0

    def live(self) -> str | None:
        if self.fail_live:
            self.fail_live -= 1
            raise OSError("manifest unreadable for a moment")
        self.events.append("look")
        return self.live_id

    def hold(self, build_id: str) -> Path:
        if build_id in self.fail_hold:
            raise OSError(f"build {build_id} is going away")
        self.events.append(f"hold {build_id}")
        return Path(f"lease-{build_id}")

    def release(self, lease: Path) -> None:
        self.events.append(f"release {lease.name.removeprefix('lease-')}")

    def drop_unused(self) -> None:
        self.events.append("drop")
        if self.fail_drop:
            self.fail_drop -= 1
            raise OSError("chroma went away")


class Opened(FakeAssistant):
    """The assistant over one build; ``opened`` is the build it found (the manifest's at the time)."""

    def __init__(self, events: list[str], opened: str | None) -> None:
        super().__init__()
        self.events, self.opened = events, opened

    def warm_up(self) -> None:
        self.events.append(f"warm {self.opened}")

    def info(self) -> dict[str, object]:
        return {**super().info(), "build": self.opened}


def make(builds_live: str | None = "b1") -> tuple[LiveAssistant, Builds, list[str], Callable[[str | None], None]]:
    """A LiveAssistant serving ``b1``; ``opens(x)`` sets what the next open finds ("fail" raises)."""
    events: list[str] = []
    builds = Builds(events, builds_live)
    finds: list[str | None] = [builds_live]

    def load() -> Opened:
        events.append(f"open {finds[0]}")
        if finds[0] == "fail":
            raise OSError("bm25.npz is missing")
        return Opened(events, finds[0])

    def opens(build: str | None) -> None:
        finds[0] = build

    live = LiveAssistant(load, builds, interval_s=0)
    events.clear()
    return live, builds, events, opens


def new_build(builds: Builds, opens: Callable[[str | None], None], build: str = "b2") -> None:
    builds.live_id = build
    opens(build)


def test_the_new_build_is_leased_before_it_is_opened_and_warm_before_it_serves() -> None:
    live, builds, events, opens = make()
    new_build(builds, opens)
    assert live.reload_if_changed() and live.build == "b2" and live.info()["build"] == "b2"
    assert events == ["look", "hold b2", "open b2", "warm b2", "release b1", "drop"]


def test_the_same_build_is_not_opened_again() -> None:
    live, _, events, _ = make()
    assert not live.reload_if_changed() and events == ["look"]


@pytest.mark.parametrize("finds", ["fail", "b3"], ids=["cannot be opened", "moved on while opening"])
def test_a_build_that_does_not_open_as_leased_is_released_and_the_old_one_serves(finds: str) -> None:
    live, builds, events, opens = make()
    builds.live_id = "b2"
    opens(finds)
    assert not live.reload_if_changed()
    assert live.build == "b1" and live.answer("面积？").citations
    assert "release b2" in events and "release b1" not in events and "drop" not in events


def test_a_build_going_away_before_its_lease_is_not_opened() -> None:
    live, builds, events, opens = make()
    new_build(builds, opens)
    builds.fail_hold.add("b2")
    assert not live.reload_if_changed() and live.build == "b1" and "open b2" not in events


def test_answers_sources_and_finished_streams_hold_no_build() -> None:
    live, builds, events, opens = make()
    live.answer("面积？")
    assert live.chunk(FAKE_CHUNK.id) == FAKE_CHUNK
    list(live.stream("面积？"))
    closed = live.stream("面积？")
    next(closed)
    closed.close()  # a client that went away mid-stream
    new_build(builds, opens)
    assert live.reload_if_changed() and events[-2:] == ["release b1", "drop"]  # nobody on b1: dropped at once


def test_a_stream_in_flight_keeps_its_build_until_it_ends() -> None:
    live, builds, events, opens = make()
    stream: Iterator[Any] = live.stream("面积？")
    next(stream)
    new_build(builds, opens)
    assert live.reload_if_changed() and live.build == "b2"
    assert "release b1" not in events and live.answer("面积？").citations  # new requests on b2
    assert isinstance(list(stream)[-1], Answer)  # the stream finishes on b1 …
    assert events[-2:] == ["release b1", "drop"]  # … and then b1 goes


def test_a_source_read_in_flight_keeps_its_build_until_it_returns() -> None:
    """GET /api/v1/sources/{id} reads a passage of the serving build: a swap during the read drops the old build only
    once the read is done."""
    events: list[str] = []
    builds = Builds(events)
    during: list[str] = []

    class Reading(Opened):
        def chunk(self, chunk_id: str) -> Any:
            if self.opened == "b1":  # a new build is swapped in while b1's passage is read
                builds.live_id = "b2"
                assert live.reload_if_changed() and live.build == "b2"
                during.extend(events)
            return super().chunk(chunk_id)

    opened = iter(["b1", "b2"])
    live = LiveAssistant(lambda: Reading(events, next(opened)), builds, interval_s=0)
    assert live.chunk(FAKE_CHUNK.id) == FAKE_CHUNK
    assert "hold b2" in during and "release b1" not in during  # b1 kept while its passage was read …
    assert events[-2:] == ["release b1", "drop"]  # … and let go once it was


def test_a_failed_cleanup_does_not_undo_the_swap() -> None:
    live, builds, _, opens = make()
    builds.fail_drop = 1
    new_build(builds, opens)
    assert live.reload_if_changed() and live.build == "b2" and live.answer("面积？").citations


def test_the_watcher_outlives_a_failed_look() -> None:
    live, builds, _, opens = make()
    builds.fail_live = 2
    new_build(builds, opens)
    live.interval_s = 0.01
    live.start()
    try:
        deadline = time.monotonic() + 10
        while live.build != "b2" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert live.build == "b2"
    finally:
        live.close()


def test_serve_starts_the_watcher_wakes_it_on_sighup_and_believes_no_forwarded_header(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from assistant.web.server import serve

    ran: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: ran.update(options, app=app))
    live, builds, _, opens = make()
    live.interval_s = 3600  # only a wake-up makes it look within this test
    previous = signal.signal(signal.SIGHUP, lambda *_: None)  # were serve to install nothing, the kill is ignored
    try:
        serve(Settings(feedback_db=tmp_path / "feedback.sqlite3"), live)
        assert ran["proxy_headers"] is False  # X-Forwarded-* only from PARK_TRUSTED_PROXIES, at the edge
        assert (ran["host"], ran["port"]) == ("127.0.0.1", 7860)
        new_build(builds, opens)
        os.kill(os.getpid(), signal.SIGHUP)  # `kill -HUP <server pid>`
        deadline = time.monotonic() + 10
        while live.build != "b2" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert live.build == "b2"
    finally:
        signal.signal(signal.SIGHUP, previous)
        live.close()
