"""The admin API's index jobs: one build at a time, in the order asked, each with a status an editor can poll
(queued → running with progress → done with the build, or failed with the error), and a bounded memory of them."""

from __future__ import annotations

import threading
import time
from typing import Any

from assistant.web.jobs import IndexJobs


def wait(jobs: IndexJobs, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = jobs.get(job_id)
        assert job is not None
        if job.status in ("done", "failed"):
            return job.as_dict()
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not finish")


def test_builds_run_one_at_a_time_in_the_order_asked() -> None:
    running, most, order = [0], [0], []
    lock = threading.Lock()

    def build(progress: Any) -> Any:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)  # long enough for the next jobs to be submitted meanwhile
        with lock:
            running[0] -= 1
            order.append(len(order) + 1)
        return type("Report", (), {"build_id": f"b{len(order)}"})()

    jobs = IndexJobs(build)
    ids = [jobs.submit("upload", source=f"{n}.md").id for n in range(4)]
    finished = [wait(jobs, i) for i in ids]
    assert most[0] == 1  # a second concurrent build would find the build lock taken and fail
    assert [j["build"] for j in finished] == ["b1", "b2", "b3", "b4"]
    assert all(j["status"] == "done" and j["progress"] == 1.0 for j in finished)


def test_a_job_reports_running_with_progress_then_its_outcome() -> None:
    started, release = threading.Event(), threading.Event()

    def build(progress: Any) -> None:
        progress(1, 4)
        started.set()
        release.wait(10)
        raise OSError("disk full")

    jobs = IndexJobs(build)
    job = jobs.submit("delete", source="a.md", document="abc")
    assert started.wait(10)
    assert jobs.get(job.id).as_dict() == {"id": job.id, "action": "delete", "status": "running",  # type: ignore[union-attr]
                                          "progress": 0.25, "source": "a.md", "document": "abc"}
    release.set()
    failed = wait(jobs, job.id)
    assert failed["status"] == "failed" and failed["error"] == "OSError: disk full" and "build" not in failed
    after = jobs.submit("upload")  # a failed build does not stop the queue
    assert wait(jobs, after.id)["status"] == "failed"


def test_finished_jobs_are_forgotten_beyond_the_limit_oldest_first() -> None:
    jobs = IndexJobs(lambda progress: None, keep=3)
    ids = [jobs.submit("upload").id for _ in range(3)]
    for i in ids:
        wait(jobs, i)
    newest = [jobs.submit("upload").id for _ in range(2)]
    for i in newest:
        wait(jobs, i)
    assert jobs.get(ids[0]) is None and jobs.get(ids[1]) is None
    assert jobs.get(ids[2]) is not None and all(jobs.get(i) is not None for i in newest)
