"""Rebuilding the index under a running server (fault suite, item 1), the build lock, duplicate sources and the
index command's report of skipped files (item 11). Real chroma and real index builds; the FakeEmbedder for
speed (``bench/faults.py`` replays the rebuild with ``park-assistant index --force`` and the real model).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from support import serve_app

import assistant.wiring
from assistant.cli import cli
from assistant.config import Settings
from assistant.data import Answer
from assistant.errors import IndexBusyError, StoreError
from assistant.knowledge.builds import build_lock, doom, hold_build, leased_builds, release
from assistant.knowledge.indexing import read_manifest, store_dir
from assistant.knowledge.store import collection_names
from assistant.testing import FakeEmbedder
from assistant.web.api import create_app
from assistant.web.reload import IndexBuilds, LiveAssistant
from assistant.web.server import UVICORN_OPTIONS
from assistant.wiring import build_assistant, build_client, build_indexer

AREA = "河套合作区总面积有多大？"


def collections(settings: Settings) -> list[str]:
    return collection_names(build_client(settings), settings.collection + "__")


def build_folders(settings: Settings) -> list[str]:
    return sorted(d.name for d in (store_dir(settings.index_dir) / "builds").iterdir())


def rebuild(settings: Settings, embedder: FakeEmbedder) -> str:
    return build_indexer(settings, embedder=embedder).build(force=True).build_id


@pytest.fixture
def fake() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def live(tiny_settings: Settings, fake: FakeEmbedder) -> Iterator[LiveAssistant]:
    """A LiveAssistant over the tiny index, not watching (tests call reload_if_changed themselves)."""
    rebuild(tiny_settings, fake)
    builds = IndexBuilds(tiny_settings.index_dir, build_client(tiny_settings), tiny_settings.collection)
    assistant = LiveAssistant(lambda: build_assistant(tiny_settings, embedder=fake), builds, interval_s=0)
    yield assistant
    assistant.close()


def test_a_rebuild_keeps_the_serving_build_until_the_server_moves(tiny_settings: Settings, fake: FakeEmbedder,
                                                                  live: LiveAssistant) -> None:
    old = live.build
    new = rebuild(tiny_settings, fake)  # what `park-assistant index --force` does beside the server
    assert new != old and len(collections(tiny_settings)) == 2  # the old collection is leased: kept
    assert live.answer(AREA).citations  # still answering from the old build, not 503
    assert live.reload_if_changed() and live.build == new and live.info()["build"] == new
    assert live.answer(AREA).citations
    assert collections(tiny_settings) == [f"{tiny_settings.collection}__{new.replace('-', '_')}"]
    assert build_folders(tiny_settings) == [new]


def test_a_request_in_flight_keeps_its_build_until_it_ends(tiny_settings: Settings, fake: FakeEmbedder,
                                                           live: LiveAssistant) -> None:
    stream = live.stream(AREA)
    first = next(stream)  # the request has started on the old build
    rebuild(tiny_settings, fake)
    assert live.reload_if_changed()
    assert len(collections(tiny_settings)) == 2  # swapped, but the old build is still in use
    rest = list(stream)
    assert first is not None and isinstance(rest[-1], Answer) and rest[-1].citations
    assert len(collections(tiny_settings)) == 1  # its last user finished: dropped


def test_a_wake_up_looks_at_once(tiny_settings: Settings, fake: FakeEmbedder, live: LiveAssistant) -> None:
    live.interval_s = 3600  # the manifest watch alone would not look again this hour
    live.start()
    new = rebuild(tiny_settings, fake)
    live.wake()  # what `kill -HUP <server pid>` does
    deadline = time.monotonic() + 10
    while live.build != new and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live.build == new


def test_a_build_that_cannot_be_opened_leaves_the_old_one_serving(tiny_settings: Settings, fake: FakeEmbedder,
                                                                  live: LiveAssistant) -> None:
    old = live.build
    new = rebuild(tiny_settings, fake)
    shutil.rmtree(store_dir(tiny_settings.index_dir) / "builds" / new)  # a broken build
    assert not live.reload_if_changed()
    assert live.build == old and live.answer(AREA).citations


def test_zero_failed_requests_across_rebuilds_over_http(tiny_settings: Settings, fake: FakeEmbedder,
                                                        live: LiveAssistant) -> None:
    live.interval_s = 0.1
    live.start()
    server, thread, base = serve_app(create_app(live, tiny_settings.with_(rate_limit_per_minute=100_000), None),
                                     **UVICORN_OPTIONS)
    codes: list[int] = []
    stop = threading.Event()

    def ask_loop() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while not stop.is_set():
                codes.append(client.post("/api/v1/ask", json={"question": AREA}).status_code)
                stream = client.post("/api/v1/ask/stream", json={"question": AREA})
                codes.append(stream.status_code if "event: done" in stream.text else 599)

    asker = threading.Thread(target=ask_loop)
    asker.start()
    try:
        builds = [rebuild(tiny_settings, fake) for _ in range(3)]
        deadline = time.monotonic() + 20
        while live.build != builds[-1] and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        stop.set()
        asker.join(30)
        ready = httpx.get(base + "/readyz").json()
        server.should_exit = True
        thread.join(10)
    assert len(codes) > 10 and set(codes) == {200}, sorted(set(codes))
    assert ready["build"] == builds[-1] and ready["ready"] is True
    assert len(collections(tiny_settings)) == 1


def test_a_second_concurrent_build_exits_with_a_clear_message(tiny_settings: Settings, fake: FakeEmbedder) -> None:
    with build_lock(tiny_settings.index_dir), \
            pytest.raises(IndexBusyError, match=r"another `park-assistant index` is building .*pid"):
        build_indexer(tiny_settings, embedder=fake).build()
    assert build_indexer(tiny_settings, embedder=fake).build().chunks > 0  # the lock is released after


def test_a_build_waits_for_a_servers_short_cleanup(tiny_settings: Settings, fake: FakeEmbedder) -> None:
    lock = build_lock(tiny_settings.index_dir, purpose="cleanup")
    lock.__enter__()
    threading.Timer(0.5, lambda: lock.__exit__(None, None, None)).start()
    assert build_indexer(tiny_settings, embedder=fake).build().chunks > 0  # waited, did not fail


def test_lease_and_cleanup_always_see_each_other(tiny_settings: Settings) -> None:
    index_dir = tiny_settings.index_dir
    lease = hold_build(index_dir, "b1")
    with doom(index_dir, "b1") as droppable:  # a reader holds it: the cleanup must keep it
        assert not droppable
    release(lease)
    with doom(index_dir, "b1") as droppable:  # the cleanup began first: the reader must not take it
        assert droppable
        with pytest.raises(StoreError, match="being removed"):
            hold_build(index_dir, "b1")
    assert "b1" not in leased_builds(index_dir)
    release(hold_build(index_dir, "b1"))  # the tombstone is gone with the cleanup


def test_duplicate_source_files_are_indexed_once_and_named(tiny_settings: Settings, fake: FakeEmbedder) -> None:
    shutil.copy2(tiny_settings.sources / "plan-excerpt.md", tiny_settings.sources / "zz-copy-of-plan.md")
    report = build_indexer(tiny_settings, embedder=fake).build()
    assert [(s.source, s.reason) for s in report.skipped] == [
        ("zz-copy-of-plan.md", "same content as plan-excerpt.md — remove one of the two")]
    manifest = read_manifest(tiny_settings.index_dir)
    assert manifest is not None and "zz-copy-of-plan.md" not in manifest["sources"]


def test_index_names_each_skipped_file_once(tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    (tiny_settings.sources / "bad.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    monkeypatch.setenv("PARK_INDEX_DIR", str(tiny_settings.index_dir))
    monkeypatch.setattr(assistant.wiring, "build_embedder", lambda settings: FakeEmbedder())
    # Without handlers on the root logger (as in a plain `park-assistant index`), warnings print to stderr.
    monkeypatch.setattr(logging.root, "handlers", [])
    result = CliRunner().invoke(cli, ["index", "--no-progress"], catch_exceptions=False)
    assert result.exit_code == 3
    assert result.stderr.count("bad.pdf") == 1, result.stderr
    assert "EOF marker" not in result.stderr and "pypdf" not in result.stderr


def test_manifest_watch_uses_the_file_time_not_a_parse_per_look(tiny_settings: Settings, fake: FakeEmbedder,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    rebuild(tiny_settings, fake)
    builds = IndexBuilds(tiny_settings.index_dir, build_client(tiny_settings), tiny_settings.collection)
    first = builds.live()
    reads: list[Path] = []
    monkeypatch.setattr("assistant.web.reload.read_manifest", lambda d: reads.append(d) or {"build_id": "x"})
    assert builds.live() == first and reads == []
