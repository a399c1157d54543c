"""OCR on the application form: the polling endpoint, and the hooks the application page
(backend/approvals/views.py) calls. Thin: the rules are in service.py.

The form is server-rendered and uploads go with its POST, so the flow is:
  - any POST of the form asks for its proposal / feasibility / preliminary design files to be
    read (once per file); "上传并识别" (`_ocr=upload`) re-renders the form with the files
    kept and no validation errors;
  - the page polls GET /ocr/extractions/<id> ("正在识别第 3/12 页…");
  - "用文件中的信息填写" (`_ocr=fill`) fills the empty fields on the server (array rows,
    choices and units are the server's business), or all of them with "覆盖" ticked; the
    filled fields travel in the hidden `_ocr_prefilled` input and are marked "来自文件，请核对";
  - the final submit stores, per filled field, what was extracted and what was submitted.
"""

from __future__ import annotations

import json

import click
from flask import Blueprint, abort, g, jsonify, request
from flask.cli import AppGroup, with_appcontext
from flask_babel import gettext as _
from flask_login import current_user, login_required

from backend.audit import record
from backend.extensions import db
from backend.ocr import jobs as _jobs  # noqa: F401  (registers the ocr.extract job)
from backend.ocr import service
from backend.ocr.models import DONE, FAILED

bp = Blueprint("ocr", __name__, template_folder="templates")

UPLOAD = "upload"
FILL = "fill"


@bp.get("/ocr/extractions/<int:extraction_id>")
@login_required
def extraction_status(extraction_id: int):
    row = service.readable_extraction(session=db.session, user=current_user, extraction_id=extraction_id)
    if row is None:
        abort(404)  # not readable reads as not found
    response = jsonify(service.status(row))
    response.cache_control.no_store = True
    return response


@bp.post("/ocr/extractions/<int:extraction_id>/retry")
@login_required
def retry_extraction(extraction_id: int):
    """ "重新识别" (ocr.js, CSRF in the X-CSRFToken header): 202 with the new status, 409 when
    this extraction cannot be read again now (a message says why)."""
    row = service.readable_extraction(session=db.session, user=current_user, extraction_id=extraction_id)
    if row is None:
        abort(404)
    before = row.error_code
    try:
        service.retry_extraction(session=db.session, row=row)
    except service.NotRetryable as exc:
        db.session.rollback()
        return jsonify({"message": str(exc)}), 409
    record(
        "ocr.retry",
        object_type="document_extraction",
        object_id=row.id,
        detail={"file": row.file_name, "attempt": row.attempts, "error_code": before},
    )
    body = service.status(row)  # before the commit: no second read of the row after it
    db.session.commit()
    return jsonify(body), 202


# --- hooks of the application page ---------------------------------------------------------


def application_post(*, schema: dict, data: dict, submitted: dict | None = None) -> bool:
    """Called with every POST of the application form (or of its 补正/修改 form, with
    `submitted` the application as last submitted: only files added since are read), after
    its uploads are stored. Asks for the documents to be read and applies "用文件中的信息填写".
    True when the POST was an OCR action: the caller commits and re-renders the form (no
    validation, no submit)."""
    g.ocr_notice = None
    skip = service.submitted_files(submitted)
    prefilled = service.parse_prefilled(request.form.get(service.PREFILLED_INPUT))
    service.request_extractions(session=db.session, user=current_user, data=data, skip=skip)
    action = request.form.get("_ocr")
    if action == FILL:
        extractions = service.extractions_for(session=db.session, user=current_user, data=data, skip=skip)
        filled = service.fill(
            session=db.session,
            schema=schema,
            data=data,
            extractions=extractions,
            overwrite=bool(request.form.get("_ocr_overwrite")),
        )
        prefilled.update(filled)
        if filled:
            g.ocr_notice = _("已用文件中的信息填写 %(num)s 项，请逐项核对", num=len(filled))
        elif any(row.state == DONE for row in extractions):
            g.ocr_notice = _("没有可填写的空白项：已填写的内容不会被覆盖，如需覆盖请勾选“覆盖已填写的内容”")
        else:
            g.ocr_notice = _("文件尚未识别完成")
    g.ocr_prefilled = prefilled
    return action in (UPLOAD, FILL)


def application_submitted(*, schema: dict, data: dict, project_code: str | None) -> None:
    """Called in the submit's unit of work: keep extracted vs submitted per filled field."""
    prefilled = service.parse_prefilled(request.form.get(service.PREFILLED_INPUT))
    service.record_corrections(
        session=db.session,
        user=current_user,
        schema=schema,
        data=data,
        prefilled=prefilled,
        project_code=project_code,
    )


def ocr_panel(schema: dict, values: dict, submitted: dict | None = None) -> dict:
    """What the form's OCR panel shows (template global; reads only). `submitted`: as for
    application_post."""
    extractions = service.extractions_for(
        session=db.session, user=current_user, data=values or {}, skip=service.submitted_files(submitted)
    )
    prefilled = getattr(g, "ocr_prefilled", None)
    if prefilled is None:
        prefilled = service.parse_prefilled(request.form.get(service.PREFILLED_INPUT)) if request.form else {}
    marks = service.marks(session=db.session, schema=schema, prefilled=prefilled, extractions=extractions)
    return {
        "extractions": [service.status(row) for row in extractions],
        "any_done": any(row.state == DONE for row in extractions),
        "all_finished": all(row.state in (DONE, FAILED) for row in extractions),
        "prefilled_json": json.dumps(prefilled, sort_keys=True),
        "marks": marks,
        "marks_json": json.dumps(
            {field: mark_title(mark) for field, mark in marks.items()}, ensure_ascii=False, sort_keys=True
        ),
        "notice": getattr(g, "ocr_notice", None),
        "kinds": service.KINDS,
    }


def mark_title(mark: dict) -> str:
    """The hover text of a "来自文件" mark: the file, the page and the snippet."""
    return _(
        "%(name)s 第 %(page)s 页：%(snippet)s",
        name=mark.get("name") or "",
        page=mark.get("page") or "?",
        snippet=mark.get("snippet") or "",
    )


# --- accuracy in real use --------------------------------------------------------------------


@click.command("accuracy")
@with_appcontext
def accuracy_command():
    """Per form field: values filled from documents and the share submitted unchanged."""
    rows = service.accuracy(session=db.session)
    if not rows:
        click.echo("no corrections recorded yet")
        return
    click.echo("field\tsubmitted\tunchanged\tshare")
    for row in rows:
        click.echo(f"{row['field']}\t{row['total']}\t{row['accepted']}\t{row['share']}")


def register(app) -> None:
    """The blueprint, the template globals of the form's OCR panel and `flask ocr accuracy`
    (added to the `ocr` command group, made here if backend/ocr has none yet)."""
    app.register_blueprint(bp)
    app.add_template_global(ocr_panel)
    app.add_template_global(mark_title)
    group = app.cli.commands.get("ocr")
    if group is None:
        group = AppGroup("ocr", help="OCR of application documents.")
        app.cli.add_command(group)
    group.add_command(accuracy_command)
