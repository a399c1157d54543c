"""Risk pages (风险预警, issue 9): a project's warnings and model trend (/projects/<code>/risk),
every live warning the person may see (/risk, CSV), the thresholds (/risk/settings) and the model
versions (/risk/model). Thin: the reads are in pages.py, the rules in rules.py (W)."""

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from backend.audit import record
from backend.authz import has_permission, require_permission, visible_project_or_404
from backend.authz.scope import project_clause, scope_of
from backend.db import utcnow
from backend.extensions import db
from backend.org.models import Region
from backend.projects.models import Project
from backend.risk import pages

bp = Blueprint("risk", __name__, template_folder="templates")

GRADE_LABELS = {"red": _l("红色"), "orange": _l("橙色"), "yellow": _l("黄色")}
STATE_LABELS = {
    "open": _l("待处置"),
    "dispatched": _l("处置中"),
    "cleared": _l("已消除待核验"),
    "closed": _l("已关闭"),
}
TICKET_LABELS = {
    "raised": _l("已登记"),
    "dispatched": _l("已派发"),
    "rectifying": _l("整改中"),
    "verifying": _l("待核验"),
    "closed": _l("已关闭"),
}
INSTANCE_LABELS = {
    "running": _l("运行中"),
    "incident": _l("异常"),
    "suspended": _l("已挂起"),
    "completed": _l("已完成"),
    "cancelled": _l("已取消"),
}
# Names of the causes as W's warnings.CAUSES gives them, here so babel extracts them for the
# English catalogue; a cause not listed is shown as warnings.CAUSES names it.
CAUSE_LABELS = {
    "model_delay": _l("模型预测延期"),
    "milestone_overdue": _l("里程碑逾期"),
    "no_checkin": _l("现场长期未打卡"),
    "payment_overdue": _l("付款逾期"),
    "step_overdue": _l("办理超时"),
    "progress_lag": _l("进度滞后"),
}
EXPORT_LIMIT = 10_000


def _cause_labels() -> dict:
    return {**pages.causes(), **CAUSE_LABELS}


def _visible():
    """The projects of the person's scope (drafts never have warnings: approved projects only
    are watched)."""
    return project_clause(scope_of(current_user, session=db.session))


def _labels() -> dict:
    return {
        "grade_labels": GRADE_LABELS,
        "state_labels": STATE_LABELS,
        "ticket_labels": TICKET_LABELS,
        "instance_labels": INSTANCE_LABELS,
        "cause_labels": _cause_labels(),
        "shown_grade": pages.shown_grade,
    }


@bp.get("/projects/<code>/risk")
@require_permission("risk.view")
def project_risk(code: str):
    project = visible_project_or_404(code)
    if project.status == "draft" and project.owner_unit_id != current_user.unit_id:
        abort(404)
    live, closed = pages.project_warnings(session=db.session, project_id=project.id)
    trend = pages.score_trend(session=db.session, project_id=project.id)
    limits = pages.model_limits(session=db.session)
    return render_template(
        "risk/project.html",
        project=project,
        live=live,
        closed=closed,
        tickets=pages.tickets_of(session=db.session, warnings=live + closed),
        instances=pages.instances_of(session=db.session, warnings=live + closed),
        trend=trend,
        sparkline=pages.sparkline([s.probability for s in trend], limits),
        limits=limits,
        factors=(trend[-1].factors or []) if trend else [],
        **_labels(),
    )


def _regions(visible) -> list[Region]:
    """The regions of visible projects with live warnings, and the cities above them."""
    codes = set(
        db.session.scalars(
            sa.select(Project.region_code)
            .join(pages.RiskWarning, pages.RiskWarning.project_id == Project.id)
            .where(visible, pages.RiskWarning.status.in_(pages.LIVE_STATES))
            .distinct()
        )
    )
    regions = {r.code: r for r in db.session.scalars(sa.select(Region).where(Region.code.in_(codes)))}
    parents = {r.parent_code for r in regions.values() if r.parent_code}
    for parent in db.session.scalars(sa.select(Region).where(Region.code.in_(parents))):
        if parent.level != "province":
            regions[parent.code] = parent
    return sorted(regions.values(), key=lambda r: r.code)


@bp.get("/risk")
@require_permission("risk.view")
def index():
    visible = _visible()
    filters = pages.WarningFilter.parse(request.args)
    rows = pages.live_warnings(session=db.session, visible=visible, filters=filters, limit=500)
    warnings = [w for w, _p in rows]
    return render_template(
        "risk/index.html",
        rows=rows,
        filters=filters,
        counts=pages.grade_counts(session=db.session, visible=visible),
        causes=pages.live_causes(session=db.session, visible=visible),
        regions=_regions(visible),
        tickets=pages.tickets_of(session=db.session, warnings=warnings),
        may_export=has_permission(current_user, "export.data"),
        **_labels(),
    )


def _safe(value):
    """Spreadsheet formula injection: text starting with = + - @ is kept as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@bp.get("/risk/export.csv")
@require_permission("risk.view")
@require_permission("export.data")
def export_csv():
    from backend.tasks.views import shanghai_time

    filters = pages.WarningFilter.parse(request.args)
    rows = pages.live_warnings(session=db.session, visible=_visible(), filters=filters, limit=EXPORT_LIMIT)
    tickets = pages.tickets_of(session=db.session, warnings=[w for w, _p in rows])
    causes = _cause_labels()
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 Chinese only with the BOM
    writer = csv.writer(out)
    writer.writerow(
        [_("等级"), _("项目代码"), _("项目名称"), _("地区"), _("原因"), _("预警内容"), _("状态")]
        + [_("发现时间"), _("整改工单"), _("模型概率")]
    )
    for w, p in rows:
        ticket = tickets.get(w.ticket_id)
        writer.writerow(
            [
                _safe(v)
                for v in (
                    str(GRADE_LABELS.get(pages.shown_grade(w), w.grade)),
                    p.code,
                    p.name,
                    p.region.name if p.region else p.region_code,
                    str(causes.get(w.cause, w.cause)),
                    w.title,
                    str(STATE_LABELS.get(w.status, w.status)),
                    shanghai_time(w.raised_at),
                    ticket.number if ticket else "",
                    f"{w.probability:.3f}" if w.probability is not None else "",
                )
            ]
        )
    record(
        "data.export",
        object_type="risk_warning",
        detail={"what": "risk_warnings", "format": "csv", "rows": len(rows), "filters": filters.as_args()},
    )
    db.session.commit()
    name = f"risk-warnings-{datetime.now(ZoneInfo('Asia/Shanghai')):%Y%m%d-%H%M%S}.csv"
    return Response(
        out.getvalue().encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- thresholds (risk.manage) -------------------------------------------------------------------


def _render_settings(*, values: dict[str, str], errors: dict[str, str], status: int = 200):
    from backend.risk import rules

    # One group per rule (its yellow / orange / red levels), then the model's cut-offs.
    groups = [
        (CAUSE_LABELS.get(cause, cause), list(rules.levels(base).values()))
        for cause, base in rules.RULES.items()
    ]
    groups.append((CAUSE_LABELS["model_delay"], [rules.MODEL_KEYS[g] for g in ("yellow", "orange", "red")]))
    groups.append((_("协调督办"), ["coordination_days"]))
    return (
        render_template(
            "risk/settings.html",
            groups=groups,
            defaults={key: (_number(default), label) for key, (default, label) in rules.DEFAULTS.items()},
            values=values,
            errors=errors,
        ),
        status,
    )


@bp.get("/risk/settings")
@require_permission("risk.manage")
def settings_page():
    from backend.risk import rules

    current = rules.settings(session=db.session)
    return _render_settings(values={k: _number(v) for k, v in current.items()}, errors={})


def _number(value) -> str:
    text = format(value, "f") if not isinstance(value, str) else value
    return text.rstrip("0").rstrip(".") if "." in text else text


@bp.post("/risk/settings")
@require_permission("risk.manage")
def save_settings():
    from backend.risk import rules

    values = {key: (request.form.get(key) or "").strip()[:40] for key in rules.DEFAULTS}
    before = rules.settings(session=db.session)
    try:
        after = rules.save_settings(session=db.session, values=values, by=current_user.username)
    except rules.RiskSettingsError as exc:
        db.session.rollback()
        errors = {field: _(message) for field, message in exc.errors.items()}
        flash(_("阈值未保存, 请修改标出的项"), "danger")
        return _render_settings(values=values, errors=errors, status=400)
    changed = {
        key: [_number(before.get(key)), _number(after[key])]
        for key in after
        if before.get(key) is None or before[key] != after[key]
    }
    if changed:
        record(
            "config.change", object_type="risk_setting", object_id="thresholds", detail={"changed": changed}
        )
    db.session.commit()
    flash(_("已保存风险预警阈值") if changed else _("阈值没有变化"), "success")
    return redirect(url_for("risk.settings_page"))


# --- the model (risk.view; retraining risk.manage) ----------------------------------------------


METRIC_LABELS = {
    "cv_auc": _l("交叉验证 AUC"),
    "cv_brier": _l("交叉验证 Brier 分数 (越小越好)"),
}
# The background job that trains and saves a new version (backend/risk/retrain.py).
RETRAIN_JOB = "risk.retrain"


def _retrain_available() -> bool:
    from backend.jobs.registry import _JOBS

    return RETRAIN_JOB in _JOBS


@bp.get("/risk/model")
@require_permission("risk.view")
def model_page():
    return render_template(
        "risk/model.html",
        cards=pages.model_cards(),
        limits=pages.model_limits(session=db.session),
        may_manage=has_permission(current_user, "risk.manage"),
        retrain_available=_retrain_available(),
        metric_labels=METRIC_LABELS,
        grade_labels=GRADE_LABELS,
    )


@bp.post("/risk/model/retrain")
@require_permission("risk.manage")
def retrain():
    from backend import jobs

    if not _retrain_available():
        flash(_("本系统未提供后台训练任务, 请用 flask --app app risk train 训练"), "danger")
        return redirect(url_for("risk.model_page"))
    # One a minute: a double click queues one training, not two.
    key = f"{RETRAIN_JOB}:manual:{utcnow():%Y%m%d%H%M}"
    row = jobs.enqueue(
        session=db.session, actor=RETRAIN_JOB, payload={"by": current_user.username}, idempotency_key=key
    )
    if row is None:
        flash(_("重新训练已在排队"), "info")
        return redirect(url_for("risk.model_page"))
    record("config.change", object_type="risk_model", object_id="retrain", detail={"op": "retrain"})
    db.session.commit()
    flash(_("已开始在后台重新训练模型, 完成后此页出现新版本"), "success")
    return redirect(url_for("risk.model_page"))


# --- the cockpit's panel ------------------------------------------------------------------------


@bp.app_template_global("risk_panel")
def risk_panel() -> dict | None:
    """Live warnings per grade and the newest red ones in the person's scope, for the cockpit;
    None without risk.view."""
    if not has_permission(current_user, "risk.view"):
        return None
    visible = _visible()
    reds = pages.live_warnings(
        session=db.session, visible=visible, filters=pages.WarningFilter(grade="red"), limit=5
    )
    return {
        "counts": pages.grade_counts(session=db.session, visible=visible),
        "reds": reds,
        "grade_labels": GRADE_LABELS,
        "cause_labels": _cause_labels(),
    }
