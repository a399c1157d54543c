"""Performance reports' pages (绩效报告, /leader/reports) on the cockpit's blueprint: the list of
the reports the person's data scope covers, the form requesting one, and the downloads. Thin:
the rules are in reports.py.

kpi.view lists, requests and downloads: a report holds the figures the person already sees in
the cockpit, and a duplicate request joins the one queued. Every download checks the scope
again; a report outside it, or not done, is 404."""

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.audit import record
from backend.authz import require_permission
from backend.extensions import db
from backend.files.errors import FileMissing
from backend.files.service import open_file
from backend.files.sniff import PDF, XLSX
from backend.files.views import content_disposition
from backend.kpi import reports, service
from backend.kpi.models import KpiReport

# The cockpit's scope, Beijing date and period picker, not copies.
from backend.kpi.views import _period_choices, _scope, _today, bp

KINDS = {"pdf": (PDF, "pdf_sha256"), "xlsx": (XLSX, "xlsx_sha256")}


def _default_period() -> str:
    """The last quarter that has ended."""
    today = _today()
    quarter = (today.month - 1) // 3
    return f"{today.year - 1}Q4" if quarter == 0 else f"{today.year}Q{quarter}"


@bp.get("/reports")
@require_permission("kpi.view")
def reports_page():
    scope = _scope()
    rows = reports.visible_reports(session=db.session, scope=scope)
    names = reports.region_names(session=db.session)
    regions = reports.regions_for(session=db.session, scope=scope)
    return render_template(
        "kpi/reports.html",
        rows=rows,
        names=names,
        regions=regions,
        top=reports.top_region(session=db.session, scope=scope),
        period_choices=_period_choices(service.parse_period(None, today=_today())),
        default_period=_default_period(),
    )


@bp.post("/reports")
@require_permission("kpi.view")
def request_report_action():
    scope = _scope()
    region = (request.form.get("region") or "").strip()[:12] or reports.top_region(
        session=db.session, scope=scope
    )
    if not region or not reports.sees_region(session=db.session, scope=scope, region_code=region):
        flash(_("所选行政区划不在您的数据范围内"), "danger")
        return redirect(url_for("kpi.reports_page"))
    try:
        report, created = reports.request_report(
            session=db.session,
            region_code=region,
            period_key=(request.form.get("period") or "").strip()[:10],
            requested_by=current_user.username,
        )
    except service.KpiInputError as error:
        flash(str(error), "danger")
        return redirect(url_for("kpi.reports_page"))
    record(
        "kpi.report_request",
        object_type="kpi_report",
        object_id=report.id,
        detail={"region": report.region_code, "period": report.period_key, "joined": not created},
    )
    db.session.commit()
    if created:
        flash(_("已提交报告生成请求，生成后即可下载"), "success")
    else:
        flash(_("该报告正在生成，请稍候"), "info")
    return redirect(url_for("kpi.reports_page", _anchor=f"report-{report.id}"))


@bp.get("/reports/<int:report_id>/<kind>")
@require_permission("kpi.view")
def report_download(report_id: int, kind: str):
    if kind not in KINDS:
        abort(404)
    content_type, column = KINDS[kind]
    report = db.session.get(KpiReport, report_id)
    if report is None or report.status != "done" or getattr(report, column) is None:
        abort(404)
    if not reports.sees_region(session=db.session, scope=_scope(), region_code=report.region_code):
        abort(404)  # outside the scope reads as "does not exist"
    sha256 = getattr(report, column)
    try:
        stream = open_file(sha256=sha256)
    except FileMissing:
        abort(404)
    # Who took which report out, as for every export (the GET's audit write: audit.record).
    record("kpi.report_download", object_type="kpi_report", object_id=report.id, detail={"kind": kind})
    db.session.commit()
    response = send_file(stream, mimetype=content_type, conditional=True, etag=sha256, max_age=3600)
    name = f"{report.title or report.region_code + '-' + report.period_key}.{kind}"
    response.headers["Content-Disposition"] = content_disposition("attachment", name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.private = True
    response.cache_control.public = False
    return response
