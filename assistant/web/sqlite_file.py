"""A small SQLite file shared by threads and processes: the feedback store and the question log live in one.

Every use opens its own connection (SQLite connections must not cross threads); the file, its folder and the
schema are created on first use, not at construction, and the database runs in WAL mode (readers never block
the writer). Any failure is an :class:`AssistantError` naming the file and the setting that moves it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from assistant.errors import AssistantError


class SqliteFile:
    """``connect()`` yields a connection to ``path``, whose ``schema`` (idempotent DDL) is applied once."""

    def __init__(self, path: Path, schema: str, what: str) -> None:
        self.path = Path(path)
        self.schema = schema
        self.what = what  # how errors name it: "feedback database", "question log"
        self._lock = threading.Lock()
        self._ready = False

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        self._ensure_schema()
        try:
            with closing(sqlite3.connect(self.path, timeout=30)) as conn:
                yield conn
        except sqlite3.Error as exc:
            raise AssistantError(f"{self.what} {self.path} failed: {exc} — check that PARK_FEEDBACK_DB points to "
                                 "a writable file on a local disk") from exc

    def _ensure_schema(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with closing(sqlite3.connect(self.path, timeout=30)) as conn:
                    # WAL is a property of the file: set once, every later connection uses it.
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.executescript(self.schema)
                    conn.commit()
            except (OSError, sqlite3.Error) as exc:
                raise AssistantError(f"cannot create the {self.what} at {self.path}: {exc} — set PARK_FEEDBACK_DB "
                                     "to a writable path") from exc
            self._ready = True
