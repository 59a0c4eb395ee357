"""Hot reload: the server moves to a new index build without a restart and without failing a request.

:class:`LiveAssistant` is an :class:`~assistant.data.AssistantLike` over "the current build". A watcher
thread looks at the index manifest every ``PARK_RELOAD_INTERVAL`` seconds (and at once on ``SIGHUP``); when
``park-assistant index`` has swapped in a new build, it takes a lease on it, opens it beside the old one,
and swaps the reference atomically. Requests started on the old build finish on it — each holds its
generation until its answer (or stream) is done — and when the last one has, the old build's lease is
released and its collection dropped. A new build that fails to open is logged and the old one keeps
serving.

>>> # live = LiveAssistant(load=lambda: build_assistant(settings), builds=BuildFiles(...), interval_s=2)
>>> # live.start(); create_app(live, settings, feedback)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from assistant.data import Answer, AssistantLike, Chunk, Filters, Message, StreamEvent
from assistant.knowledge.builds import hold_build, release
from assistant.knowledge.indexing import MANIFEST, drop_unused_builds, read_manifest, store_dir

log = logging.getLogger(__name__)


class Builds(Protocol):
    """What reloading needs of the index: the live build id, leases, and dropping what nobody uses."""

    def live(self) -> str | None: ...

    def hold(self, build_id: str) -> Path: ...

    def release(self, lease: Path) -> None: ...

    def drop_unused(self) -> None: ...


class IndexBuilds:
    """:class:`Builds` of an index folder (``client`` is the chroma client its collections live in)."""

    def __init__(self, index_dir: Path, client: Any, collection: str) -> None:
        self.index_dir, self.client, self.collection = index_dir, client, collection
        self._seen: tuple[int, str | None] | None = None  # (manifest mtime, build id): parse on change only

    def live(self) -> str | None:
        try:
            mtime = (store_dir(self.index_dir) / MANIFEST).stat().st_mtime_ns
        except FileNotFoundError:
            return None
        if self._seen is None or self._seen[0] != mtime:
            manifest = read_manifest(self.index_dir)
            self._seen = (mtime, manifest["build_id"] if manifest else None)
        return self._seen[1]

    def hold(self, build_id: str) -> Path:
        return hold_build(self.index_dir, build_id)

    def release(self, lease: Path) -> None:
        release(lease)

    def drop_unused(self) -> None:
        drop_unused_builds(self.index_dir, self.client, self.collection)


@dataclass
class _Generation:
    assistant: AssistantLike
    build: str | None
    lease: Path | None
    users: int = 0
    retired: bool = False


class LiveAssistant:
    """Serves the index's live build; see the module docstring."""

    def __init__(self, load: Callable[[], AssistantLike], builds: Builds, *, interval_s: float = 2.0) -> None:
        self._load = load
        self._builds = builds
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._reloading = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reloads = 0
        build = builds.live()
        lease = builds.hold(build) if build else None
        self._current = _Generation(load(), build, lease)

    # -- the watcher ------------------------------------------------------------------------------------
    def start(self) -> LiveAssistant:
        """Start watching the manifest (a daemon thread); no-op when the interval is 0."""
        if self.interval_s > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="index-reload", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop watching (the current build keeps serving)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def wake(self) -> None:
        """Look for a new build now (the server's SIGHUP handler calls this)."""
        self._wake.set()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.reload_if_changed()
            except Exception:  # the watcher must outlive any one failed look
                log.exception("index reload: looking for a new build failed")

    def reload_if_changed(self) -> bool:
        """Open and serve the live build if it is not the one serving; True when it swapped."""
        with self._reloading:  # one reload at a time (watcher and SIGHUP)
            build = self._builds.live()
            if build is None or build == self._current.build:
                return False
            try:
                lease = self._builds.hold(build)  # before opening: a cleanup must not drop it under us
            except Exception as exc:
                log.info("index reload: build %s is going away, still serving %s: %s", build, self._current.build, exc)
                return False
            try:
                assistant = self._load()
                opened = assistant.info().get("build")
                if opened is not None and opened != build:  # the manifest moved on while we opened it
                    raise RuntimeError(f"opened build {opened}, not the leased {build}; retrying")
                if hasattr(assistant, "warm_up"):
                    assistant.warm_up()
            except Exception as exc:
                self._builds.release(lease)
                log.warning("index reload: build %s could not be opened, still serving %s: %s",
                            build, self._current.build, exc)
                return False
            with self._lock:
                old, self._current = self._current, _Generation(assistant, build, lease)
                old.retired = True
                idle = old.users == 0
            self.reloads += 1
            log.info("index reload: now serving build %s (was %s)", build, old.build)
            if idle:
                self._retire(old)
            return True

    def _retire(self, gen: _Generation) -> None:
        if gen.lease is not None:
            self._builds.release(gen.lease)
        try:
            self._builds.drop_unused()
        except Exception:
            log.exception("index reload: dropping unused builds failed (the next build retries)")

    # -- generations in use -------------------------------------------------------------------------------
    def _acquire(self) -> _Generation:
        with self._lock:
            gen = self._current
            gen.users += 1
            return gen

    def _release(self, gen: _Generation) -> None:
        with self._lock:
            gen.users -= 1
            done = gen.retired and gen.users == 0
        if done:
            self._retire(gen)

    @property
    def build(self) -> str | None:
        return self._current.build

    # -- AssistantLike ----------------------------------------------------------------------------------
    def answer(self, question: str, history: Sequence[Message] = (), *, lang: str | None = None,
               filters: Filters | None = None) -> Answer:
        gen = self._acquire()
        try:
            return gen.assistant.answer(question, history, lang=lang, **({"filters": filters} if filters else {}))
        finally:
            self._release(gen)

    def stream(self, question: str, history: Sequence[Message] = (), *,
               lang: str | None = None, filters: Filters | None = None) -> Iterator[StreamEvent]:
        # Acquired at the first next() (the routes run the stream to its first item at once), so a stream that
        # is never started holds nothing; released when it ends, fails or is closed (a client went away).
        gen = self._acquire()
        try:
            yield from gen.assistant.stream(question, history, lang=lang, **({"filters": filters} if filters else {}))
        finally:
            self._release(gen)

    def chunk(self, chunk_id: str) -> Chunk | None:
        gen = self._acquire()
        try:
            return gen.assistant.chunk(chunk_id)
        finally:
            self._release(gen)

    def info(self) -> dict[str, Any]:
        gen = self._current
        return {**gen.assistant.info(), "build": gen.build, "reloads": self.reloads}

    def warm_up(self) -> None:
        assistant = self._current.assistant
        if hasattr(assistant, "warm_up"):
            assistant.warm_up()
