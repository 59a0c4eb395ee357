"""The admin API for the park's editors: documents in and out, index jobs, content gaps and feedback.

Off unless ``PARK_ADMIN_TOKEN`` is set: every ``/api/v1/admin/…`` route then answers 404, as if it did not
exist. With it, each request needs ``Authorization: Bearer <token>`` (401 otherwise; compared in constant
time with :func:`hmac.compare_digest`). The routes are rate-limited like the rest of the API
(:mod:`assistant.web.limits`), except job polling.

* ``GET /api/v1/admin/documents`` — the live build's documents with metadata, lifecycle status, chunk count
* ``POST /api/v1/admin/documents`` — multipart ``file`` (md, txt, html, pdf, docx; at most
  ``PARK_MAX_UPLOAD_MB``): validated by parsing it, stored under the sources folder, indexed in the
  background → 202 ``{"job"}``; ``DELETE /api/v1/admin/documents/{id}`` → 202 ``{"job"}``
* ``GET /api/v1/admin/jobs/{id}`` — ``{"status": queued|running|done|failed, "progress", "error"?}``
* ``GET /api/v1/admin/gaps`` and ``/feedback`` — JSON, or CSV with ``?format=csv``
"""

from __future__ import annotations

import csv
import hmac
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, Request, UploadFile
from fastapi.responses import Response

from assistant.config import Settings
from assistant.durable import write_durably
from assistant.knowledge.catalog import document_id, documents
from assistant.knowledge.ingest import FORMATS, load_document
from assistant.web.errors import ApiError
from assistant.web.jobs import IndexJobs
from assistant.web.questions import QuestionLog


@dataclass(frozen=True)
class AdminTools:
    """What only the admin API needs, built by ``assistant.wiring.admin_tools``: the index job queue and query
    embeddings (to group similar questions)."""

    jobs: IndexJobs
    embed: Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class AdminDeps:
    """What the admin routes are handed (by :func:`assistant.web.api.create_app`)."""

    settings: Settings
    tools: AdminTools
    questions: QuestionLog | None
    feedback: Any  # assistant.web.feedback.FeedbackStore (recent()), or None


def _authorised(settings: Settings) -> Callable[[Request], None]:
    def check(request: Request) -> None:
        token = settings.admin_token
        if not token:
            raise ApiError(404, "not_found", f"No such endpoint: {request.method} {request.url.path} — see "
                           "/openapi.json for the API's routes.")
        scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise ApiError(401, "unauthorized", "This needs the admin token: send 'Authorization: Bearer <token>' "
                           "(the value of PARK_ADMIN_TOKEN).", {"WWW-Authenticate": "Bearer"})
    return check


STATIC = Path(__file__).parent / "static"
#: The page runs only its own script; it is never framed.
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' "
                "blob: data:; frame-ancestors 'none'", "X-Frame-Options": "DENY", "Cache-Control": "no-store"}


def add_admin_routes(app: FastAPI, deps: AdminDeps) -> None:
    """Register the admin page and API routes (the API checks the token first; both are 404 without one)."""
    settings = deps.settings
    auth = [Depends(_authorised(settings))]

    def page(name: str, media_type: str) -> Response:
        if not settings.admin_token:
            raise ApiError(404, "not_found", "Not found.")
        return Response((STATIC / name).read_bytes(), media_type=media_type, headers=PAGE_HEADERS)

    @app.get("/admin", include_in_schema=False)
    def admin_page() -> Response:
        """The editors' page: documents with lifecycle badges, upload, delete, gaps and feedback."""
        return page("admin.html", "text/html; charset=utf-8")

    @app.get("/admin.js", include_in_schema=False)
    def admin_js() -> Response:
        return page("admin.js", "text/javascript; charset=utf-8")

    @app.get("/api/v1/admin/documents", tags=["admin"], dependencies=auth)
    def list_documents() -> dict[str, Any]:
        """The documents of the serving index build, with lifecycle metadata and chunk counts."""
        build, rows = documents(settings.index_dir)
        return {"documents": rows, "build": build}

    @app.post("/api/v1/admin/documents", tags=["admin"], status_code=202, dependencies=auth)
    def upload_document(file: UploadFile) -> dict[str, str]:
        """Store a document under the sources folder and index it in the background (202 + job id)."""
        name = PurePath(file.filename or "").name
        ext = Path(name).suffix.lower()
        if not name or name.startswith((".", "~$")) or ext not in FORMATS:
            raise ApiError(422, "unsupported_file", f"{name or 'the file'}: send a "
                           f"{', '.join(sorted(FORMATS))} file with a plain name.")
        data = file.file.read(settings.limits.max_upload_bytes + 1)
        if len(data) > settings.limits.max_upload_bytes:
            raise ApiError(413, "file_too_large", f"{name} is larger than {settings.limits.max_upload_bytes} "
                           "bytes (PARK_MAX_UPLOAD_MB).")
        target = settings.sources / name
        _store_validated(data, target, settings.sources)
        job = deps.tools.jobs.submit("upload", source=name, document=document_id(name))
        return {"job": job.id, "document": document_id(name)}

    @app.delete("/api/v1/admin/documents/{doc_id}", tags=["admin"], status_code=202, dependencies=auth)
    def delete_document(doc_id: str) -> dict[str, str]:
        """Remove a document's file and re-index without it (202 + job id)."""
        _, rows = documents(settings.index_dir)
        source = next((r["source"] for r in rows if r["id"] == doc_id), None)
        path = settings.sources / source if source else None
        if path is None or not path.resolve().is_relative_to(settings.sources.resolve()) or not path.exists():
            raise ApiError(404, "unknown_document", f"No document with id {doc_id!r} — ids come from "
                           "GET /api/v1/admin/documents.")
        path.unlink()
        job = deps.tools.jobs.submit("delete", source=source, document=doc_id)
        return {"job": job.id}

    @app.get("/api/v1/admin/jobs/{job_id}", tags=["admin"], dependencies=auth)
    def job_status(job_id: str) -> dict[str, Any]:
        """A job's status: queued, running (with progress 0–1), done (with the new build) or failed (error)."""
        job = deps.tools.jobs.get(job_id)
        if job is None:
            raise ApiError(404, "unknown_job", f"No job {job_id!r} (jobs are kept while the server runs).")
        return job.as_dict()

    @app.get("/api/v1/admin/gaps", tags=["admin"], dependencies=auth, response_model=None)
    def gaps(format: str = "json") -> Response | dict[str, Any]:
        """Declined and low-confidence questions grouped by meaning: count, languages, last seen."""
        found = deps.questions.gaps(deps.tools.embed) if deps.questions is not None else []
        if format == "csv":
            return _csv("gaps.csv", ("count", "question", "questions", "languages", "declined", "last_seen",
                                     "builds"), found)
        return {"gaps": found}

    @app.get("/api/v1/admin/feedback", tags=["admin"], dependencies=auth, response_model=None)
    def feedback(format: str = "json", limit: int = 1000) -> Response | dict[str, Any]:
        """Ratings (👍 = 1 / 👎 = -1) with reasons, the answer's citations, build and confidence."""
        rows = [{**r, "build": r["meta"].get("build"), "confidence": r["meta"].get("confidence")}
                for r in (deps.feedback.recent(max(0, min(limit, 10_000))) if deps.feedback else [])]
        if format == "csv":
            return _csv("feedback.csv", ("id", "created_at", "rating", "reason", "question", "answer", "citations",
                                         "lang", "mode", "build", "confidence"), rows)
        return {"feedback": rows}


def _store_validated(data: bytes, target: Path, root: Path) -> None:
    """Parse ``data`` as the file ``target`` would be read; then move it there atomically (422 when unreadable):
    written whole and synced to disk first, so neither a reader nor a power cut finds part of it."""
    root.mkdir(parents=True, exist_ok=True)

    def readable(written: Path) -> None:
        try:
            load_document(written, root)
        except Exception as exc:  # the loader's own message says what is wrong with the file
            raise ApiError(422, "unreadable_file", f"{target.name}: {getattr(exc, 'reason', exc)}") from None

    write_durably(target, data, check=readable)


def _csv(name: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for r in rows:
        writer.writerow([v if isinstance(v := r.get(c), str | int | float) or v is None
                         else json.dumps(v, ensure_ascii=False) for c in columns])
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",  # BOM: Excel reads UTF-8
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})

