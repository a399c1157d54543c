"""The background job `ocr.extract`: read one uploaded document and find the form's fields.

Reading takes seconds per scanned page, so it runs in the job's call-out phase (see
backend/jobs/runner.py), with no transaction open: on SQLite the outbox row's transaction is
the database write lock, and every request would wait for the OCR. The phases:
  1. plan (row locked): the extraction becomes 'running'; the limits are read from config.
  2. call-out (no transaction): read the bytes, `read_document`, `find_fields`. Progress is
     written as it comes, each page count in its own short transaction on its own connection
     (a single-row UPDATE, throttled), so the polling page sees "第 3/12 页" while the job
     holds nothing in between. A lost progress write costs nothing: the record sets the end.
  3. record (row locked again): the result, or the failure with its Chinese message.
A DocumentError (encrypted, corrupt, too many pages, bomb, type mismatch, timeout) is an
outcome, not a job failure: the extraction is 'failed', the upload stays as it is. A timeout
after some pages keeps them: their fields are found, the extraction is 'done' with the
timeout kept as a notice ("只识别了前 3/12 页"). "重新识别" (service.retry_extraction) queues
the job again under a new key; a message of an earlier attempt finds the attempt changed.
"""

from __future__ import annotations

import logging
import time as clock
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app

from backend import jobs
from backend.db import utcnow
from backend.extensions import db
from backend.files.errors import FileMissing
from backend.files.service import open_file
from backend.ocr.models import DONE, FAILED, FINISHED, RUNNING, DocumentExtraction
from backend.ocr.service import INTERNAL_ERROR, JOB, MISSING_ERROR

log = logging.getLogger(__name__)

DEFAULT_MAX_PAGES = 50
DEFAULT_TIME_LIMIT_SECONDS = 120.0
PROGRESS_EVERY_SECONDS = 0.3  # at most ~3 progress writes a second, whatever the page speed


def _plan(payload: dict):
    row = db.session.get(DocumentExtraction, payload["extraction_id"])
    if row is None or row.state in FINISHED:
        return None  # read already (a duplicate message), nothing to do
    if payload.get("attempt", 1) != row.attempts:
        return None  # a message of an earlier attempt, redelivered after "重新识别"
    row.state = RUNNING
    row.pages_done = 0
    config = current_app.config
    return {
        "extraction_id": row.id,
        "sha256": row.file_sha256,
        "name": row.file_name or row.file_sha256[:12],
        "max_pages": int(config.get("OCR_MAX_PAGES", DEFAULT_MAX_PAGES)),
        "time_limit": float(config.get("OCR_TIME_LIMIT_SECONDS", DEFAULT_TIME_LIMIT_SECONDS)),
    }


def _progress_writer(extraction_id: int):
    """progress(done, total) for read_document: a short UPDATE on its own connection."""
    last = {"at": float("-inf"), "total": None}
    table = DocumentExtraction.__table__

    def progress(done: int, total: int) -> None:
        now = clock.monotonic()
        if total == last["total"] and now - last["at"] < PROGRESS_EVERY_SECONDS and done < total:
            return
        last["at"], last["total"] = now, total
        try:
            with db.engine.begin() as conn:
                conn.execute(
                    sa.update(table)
                    .where(table.c.id == extraction_id, table.c.state == RUNNING)
                    .values(pages_done=int(done), pages_total=int(total))
                )
        except sa.exc.OperationalError:  # locked for long: skip this count, the next one may pass
            log.warning("ocr.progress_not_written", extra={"extraction_id": extraction_id})

    return progress


def _read(plan: dict) -> dict:
    """Call-out phase: no transaction open. Returns the outcome for `_record`."""
    from backend.ocr import fields, reader

    started = clock.perf_counter()
    try:
        with open_file(sha256=plan["sha256"]) as stream:
            data = stream.read()
        document = reader.read_document(
            data,
            filename=plan["name"],
            max_pages=plan["max_pages"],
            time_limit=plan["time_limit"],
            progress=_progress_writer(plan["extraction_id"]),
        )
        found = fields.find_fields(document)
    except reader.DocumentError as exc:
        values = getattr(exc, "values", None) or None
        partial = getattr(exc, "document", None)
        if exc.code == "timeout" and partial is not None and partial.pages:
            try:
                found = fields.find_fields(partial)
            except Exception:
                log.exception("ocr.extract_error", extra={"extraction_id": plan["extraction_id"]})
                return _failure("internal", INTERNAL_ERROR, started)
            # What was read is kept; the timeout stays as a notice beside the result.
            outcome = _done(partial, found, started)
            total = (values or {}).get("total")
            outcome.update(
                error_code=exc.code,
                error=str(exc),
                error_values=values,
                pages_total=total if isinstance(total, int) else len(partial.pages),
            )
            return outcome
        return _failure(exc.code, str(exc), started, values)
    except FileMissing:
        return _failure("missing", MISSING_ERROR, started)
    except Exception:
        # A bug or an unreadable oddity: the applicant types, or asks for "重新识别".
        log.exception("ocr.extract_error", extra={"extraction_id": plan["extraction_id"]})
        return _failure("internal", INTERNAL_ERROR, started)
    return _done(document, found, started)


def _done(document, found: dict, started: float) -> dict:
    methods = {page.method for page in document.pages}
    return {
        "state": DONE,
        "result": {name: _jsonable(item) for name, item in found.items()},
        "method": methods.pop() if len(methods) == 1 else ("mixed" if methods else None),
        "pages": len(document.pages),
        "pages_total": len(document.pages),
        "seconds": clock.perf_counter() - started,
        "error_code": None,
        "error": None,
        "error_values": None,
    }


def _failure(code: str, message: str, started: float, values: dict | None = None) -> dict:
    return {
        "state": FAILED,
        "error_code": code,
        "error": message,
        "error_values": _plain(values) if values else None,
        "seconds": clock.perf_counter() - started,
    }


def _plain(value):
    """Decimals as strings (exact), lists and dicts through; for the JSON column."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _jsonable(item) -> dict:
    return {
        "value": _plain(item.value),
        "snippet": item.snippet,
        "page": item.page,
        "confidence": round(float(item.confidence), 3),
    }


def _record(payload: dict, plan: dict, outcome: dict) -> None:
    row = db.session.get(DocumentExtraction, plan["extraction_id"], populate_existing=True)
    if row is None or row.attempts != payload.get("attempt", 1):
        return
    row.state = outcome["state"]
    row.seconds = Decimal(f"{outcome['seconds']:.3f}")
    row.finished_at = utcnow()
    if outcome["state"] == DONE:
        row.result = outcome["result"]
        row.method = outcome["method"]
        row.pages_total = outcome["pages_total"]
        row.pages_done = outcome["pages"]
    row.error_code = outcome["error_code"]
    row.error = outcome["error"]
    row.error_values = _plain(outcome["error_values"]) if outcome["error_values"] else None
    log.info(
        "ocr.extracted",
        extra={
            "extraction_id": row.id,
            "state": row.state,
            "error_code": row.error_code,
            "seconds": outcome["seconds"],
        },
    )


extract = jobs.job(JOB, max_retries=2, call_out=_read, record=_record)(_plan)
