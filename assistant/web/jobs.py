"""Index jobs for the admin API: each upload or deletion is followed by an incremental index build, run in the
background, one at a time, with a status an editor can poll (``GET /api/v1/admin/jobs/{id}``).

The build is ``park-assistant index`` in-process (unchanged chunks keep their vectors); a running server
moves to the new build by itself (:class:`assistant.web.reload.LiveAssistant`), so no request fails.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger(__name__)

JobStatus = Literal["queued", "running", "done", "failed"]
#: A build: called with a progress callback ``(done, total)``; returns what it built (logged) or raises.
Build = Callable[[Callable[[int, int], None]], Any]


@dataclass
class Job:
    id: str
    action: str
    status: JobStatus = "queued"
    progress: float = 0.0
    error: str | None = None
    build: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "action": self.action, "status": self.status,
                               "progress": round(self.progress, 3), **self.detail}
        if self.error is not None:
            out["error"] = self.error
        if self.build is not None:
            out["build"] = self.build
        return out


class IndexJobs:
    """A queue of index builds run by one background thread (started on the first job)."""

    def __init__(self, build: Build, keep: int = 200) -> None:
        self._build = build
        self._jobs: dict[str, Job] = {}
        self._queue: queue.Queue[Job] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._keep = keep

    def submit(self, action: str, **detail: Any) -> Job:
        """Queue a build after ``action`` (``upload``/``delete``); returns the job (status ``queued``)."""
        job = Job(id=uuid.uuid4().hex[:12], action=action, detail=detail)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > self._keep:  # forget the oldest finished jobs
                oldest = next(j for j in self._jobs.values())
                if oldest.status in ("queued", "running"):
                    break
                del self._jobs[oldest.id]
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="index-jobs", daemon=True)
                self._thread.start()
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            job.status = "running"

            def progress(done: int, total: int, job: Job = job) -> None:
                job.progress = done / total if total else 1.0

            try:
                report = self._build(progress)
                job.build = getattr(report, "build_id", None)
                job.progress, job.status = 1.0, "done"
            except Exception as exc:  # a failed build is the job's outcome, told to the editor
                log.warning("index job %s failed: %s", job.id, exc)
                job.error, job.status = f"{type(exc).__name__}: {exc}", "failed"
            finally:
                self._queue.task_done()
