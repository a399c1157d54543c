"""The audit admin's pages (/admin/audit): search and filter the log, export it (CSV/XLSX,
itself audited as "export" by the hooks), list the signed checkpoints and verify the ledgers."""

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend import ledger
from backend.audit import actions, service, xlsx
from backend.audit.models import RESULTS
from backend.authz import has_permission, require_permission
from backend.extensions import db

bp = Blueprint("audit", __name__, url_prefix="/admin/audit", template_folder="templates")
PAGE_SIZE = 50
EXPORT_LIMIT = 100_000
LEDGERS = ("audit", "evidence")
COLUMNS = (
    "id",
    "at",
    "username",
    "user_id",
    "source_addr",
    "action",
    "action_label",
    "action_category",
    "object_type",
    "object_type_label",
    "object_id",
    "result",
    "result_label",
    "detail",
    "leaf_index",
)
# Export columns computed from the stored codes (the catalogue in actions.py).
LABELS = {
    "action_label": lambda row: actions.label(row.action),
    "action_category": lambda row: actions.category_label(actions.category_of(row.action)),
    "object_type_label": lambda row: actions.object_label(row.object_type),
    "result_label": lambda row: actions.result_label(row.result),
}


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai"))


def _day(value: str | None, *, end: bool) -> datetime | None:
    """A YYYY-MM-DD day in Asia/Shanghai: its start, or the start of the next day for an end."""
    if not value:
        return None
    try:
        day = datetime.strptime(value.strip(), "%Y-%m-%d").replace(tzinfo=_zone())
    except ValueError:
        return None
    return day + timedelta(days=1) if end else day


def _action_filter(args) -> tuple[str | None, tuple[str, ...] | None]:
    """(prefix, exact codes): a category is its codes; a catalogued code chosen in the select
    matches exactly ("task.delegate" must not match "task.delegate_return"); any other text is a
    prefix ("task.", "auth.")."""
    action = (args.get("action") or "").strip() or None
    category = args.get("category")
    exact = None
    if category == actions.OTHER:
        seen = service.distinct_actions(session=db.session)
        exact = {code for code in seen if code not in actions.ACTIONS}
    elif category in actions.CATEGORIES:
        exact = set(actions.codes_in(category))
    if action in actions.ACTIONS:
        exact = {action} & exact if exact is not None else {action}
        action = None
    return action, (tuple(sorted(exact)) if exact is not None else None)


def _filters() -> service.AuditFilter:
    args = request.args
    result = args.get("result") if args.get("result") in RESULTS else None
    prefix, exact = _action_filter(args)
    return service.AuditFilter(
        start=_day(args.get("start"), end=False),
        end=_day(args.get("end"), end=True),
        username=(args.get("username") or "").strip() or None,
        action=prefix,
        actions=exact,
        result=result,
        object_type=(args.get("object_type") or "").strip() or None,
        object_id=(args.get("object_id") or "").strip() or None,
    )


def _form_args() -> dict:
    keys = ("start", "end", "username", "category", "action", "result", "object_type", "object_id")
    return {k: request.args.get(k, "") for k in keys if request.args.get(k)}


@bp.get("")
@require_permission("audit.read")
def index():
    before = request.args.get("before", type=int)
    rows, next_cursor = service.search(
        session=db.session, filters=_filters(), before_id=before, limit=PAGE_SIZE
    )
    return render_template(
        "audit/index.html",
        rows=rows,
        next_cursor=next_cursor,
        args=_form_args(),
        first_page=before is None,
        results=RESULTS,
        categories=actions.CATEGORIES,
        action_groups=actions.grouped(service.distinct_actions(session=db.session)),
        object_types=_object_types(),
        catalogue=actions,
        detail_text=_detail_text,
        can_export=has_permission(current_user, "audit.export"),
        retention_days=service.retention_days(),
    )


def _object_types() -> list[tuple[str, str]]:
    """(code, label) of the catalogued object types and those seen in the log, by label."""
    codes = set(actions.OBJECT_TYPES) | set(service.distinct_object_types(session=db.session))
    return sorted(((code, actions.object_label(code)) for code in codes), key=lambda item: (item[1], item[0]))


def _detail_text(detail) -> str:
    """Chinese as itself, not as \\u escapes (the page escapes the HTML)."""
    return service.json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)


def _cell(row, column: str):
    if column in LABELS:
        return LABELS[column](row)
    value = getattr(row, column)
    if column == "at":
        return value.astimezone(_zone()).strftime("%Y-%m-%d %H:%M:%S")
    if column == "detail":
        return _detail_text(value)
    return "" if value is None else value


def _safe(value):
    """Spreadsheet formula injection: text starting with = + - @ is shown as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _export_rows():
    for row in service.iter_filtered(session=db.session, filters=_filters(), max_rows=EXPORT_LIMIT):
        yield [_safe(_cell(row, c)) for c in COLUMNS]


def _headers() -> list[str]:
    return [
        _("序号"),
        _("时间"),
        _("用户名"),
        _("用户 ID"),
        _("来源地址"),
        _("操作代码"),
        _("操作"),
        _("操作类别"),
        _("对象类型代码"),
        _("对象类型"),
        _("对象 ID"),
        _("结果代码"),
        _("结果"),
        _("详情"),
        _("账本叶子序号"),
    ]


def _filename(ext: str) -> str:
    return f"audit-{datetime.now(_zone()):%Y%m%d-%H%M%S}.{ext}"


@bp.get("/export.csv")
@require_permission("audit.export")
def export_csv():
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 Chinese only with the BOM
    writer = csv.writer(out)
    writer.writerow(_headers())
    writer.writerows(_export_rows())
    return Response(
        out.getvalue().encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_filename("csv")}"'},
    )


@bp.get("/export.xlsx")
@require_permission("audit.export")
def export_xlsx():
    data = xlsx.workbook(_headers(), _export_rows(), sheet_name="audit")
    return Response(
        data,
        mimetype=xlsx.MIMETYPE,
        headers={"Content-Disposition": f'attachment; filename="{_filename("xlsx")}"'},
    )


@bp.get("/checkpoints")
@require_permission("audit.read")
def checkpoints():
    name = request.args.get("ledger") if request.args.get("ledger") in LEDGERS else "audit"
    return _checkpoints_page(name, report=None)


def _checkpoints_page(name: str, *, report):
    rows = ledger.list_checkpoints(session=db.session, ledger=name, limit=100)
    return render_template(
        "audit/checkpoints.html",
        ledger_name=name,
        ledgers=LEDGERS,
        rows=rows,
        signature_ok={cp.id: ledger.checkpoint_signature_valid(cp) for cp in rows},
        size=ledger.size(session=db.session, ledger=name),
        report=report,
    )


@bp.post("/checkpoints/verify")
@require_permission("audit.read")
def verify():
    name = request.form.get("ledger") if request.form.get("ledger") in LEDGERS else "audit"
    report = ledger.verify(session=db.session, ledger=name)
    service.record(
        "audit.verify",
        result="success" if report.ok else "failure",
        object_type="ledger",
        object_id=name,
        detail={"ok": report.ok, "size": report.size, "problems": len(report.problems)},
    )
    db.session.commit()
    return _checkpoints_page(name, report=report)


@bp.post("/checkpoints")
@require_permission("audit.read")
def make_checkpoint():
    name = request.form.get("ledger")
    if name not in LEDGERS:
        abort(400)
    if ledger.size(session=db.session, ledger=name) == 0:
        flash(_("账本为空，无需签署检查点"), "warning")
        return redirect(url_for("audit.checkpoints", ledger=name))
    cp = ledger.checkpoint(session=db.session, ledger=name)
    service.record(
        "audit.checkpoint",
        object_type="ledger_checkpoint",
        object_id=cp.id,
        detail={"ledger": name, "tree_size": cp.tree_size, "root_hash": cp.root_hash},
    )
    db.session.commit()
    flash(_("已签署检查点 #%(id)s（树大小 %(size)s）", id=cp.id, size=cp.tree_size), "success")
    return redirect(url_for("audit.checkpoints", ledger=name))
