"""Leadership cockpit pages (领导驾驶舱, issue 10): the cockpit (/leader/), the big screen
(/leader/screen), the indicator catalogue, the records behind a figure (/leader/trace) and the
JSON the charts read (/leader/api/...). Thin: the figures come from kpi/service.py (K).

GETs only, and they never write. Bad arguments (a period that does not parse, a region outside
the person's scope) answer 400: the Chinese message in JSON, or flashed on the page."""

from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

import sqlalchemy as sa
from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.audit import record
from backend.authz import forbidden, has_permission, require_permission
from backend.authz.scope import scope_of
from backend.extensions import db
from backend.kpi import catalogue, evaluation, evaluation_export, service
from backend.org.errors import RegionNotFound
from backend.org.service import region_path
from backend.projects.models import Project

bp = Blueprint("kpi", __name__, url_prefix="/leader", template_folder="templates")

# The indicator the charts show first, and the ones the big screen puts in large type.
DEFAULT_CODE = "investment_year"
SCREEN_CODES = (
    "investment_year",
    "investment_total",
    "disbursement",
    "start_rate",
    "completion_rate",
    "approval_on_time",
    "ticket_on_time",
    "warnings_red",
)
# The columns of the children's table under the charts.
TABLE_CODES = ("investment_year", "disbursement", "start_rate", "approval_on_time", "warnings_red")
PERIOD_YEARS = 4  # the period picker offers this year and the three before
TRACE_LIMIT = 500  # rows on the trace page; beyond it the page says the list is cut


def _today():
    return datetime.now(service.SHANGHAI).date()


def _args():
    """(region, period) from the query string; KpiInputError when the period does not parse."""
    period = service.parse_period(request.args.get("period") or None, today=_today())
    region = (request.args.get("region") or "").strip() or None
    return region, period


def _code(default: str | None = DEFAULT_CODE) -> str:
    code = request.args.get("code") or default
    if code not in catalogue.BY_CODE:
        raise service.KpiInputError(_("没有这个指标：%(code)s", code=code or ""))
    return code


def _scope():
    return scope_of(current_user, session=db.session)


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def value_json(value) -> dict:
    return {
        "value": _number(value.value),
        "numerator": _text(value.numerator),
        "denominator": _text(value.denominator),
        "display": value.display,
    }


def as_of_text(area) -> str | None:
    """Beijing time of the stored snapshot the figures come from; None when computed live."""
    return area.as_of.astimezone(service.SHANGHAI).strftime("%Y-%m-%d %H:%M") if area.as_of else None


def area_json(area) -> dict:
    return {
        "as_of": as_of_text(area),
        "code": area.code,
        "name": area.name,
        "level": area.level,
        "project_count": area.project_count,
        "url": area.url,
        "values": {code: value_json(v) for code, v in area.values.items()},
    }


def period_json(period) -> dict:
    return {
        "kind": period.kind,
        "key": period.key,
        "label": period.label,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
    }


def _indicators() -> list[dict]:
    return [
        {"code": i.code, "name": i.name, "unit": i.unit, "better": i.better, "formula": i.formula}
        for i in catalogue.CATALOGUE
    ]


def _period_choices(period) -> list[tuple[int, list[tuple[str, str]]]]:
    """The picker: per year, the whole year then its quarters (keys parse_period reads)."""
    this_year = _today().year
    years = sorted({*range(this_year - PERIOD_YEARS + 1, this_year + 1), period.start.year}, reverse=True)
    return [
        (
            year,
            [(str(year), _("%(year)s年全年", year=year))]
            + [(f"{year}Q{q}", _("%(year)s年第%(q)s季度", year=year, q=q)) for q in range(1, 5)],
        )
        for year in years
    ]


def _crumbs(scope, area) -> list[dict]:
    """Breadcrumbs from the top of the person's scope down to `area` (province → city → county
    → project); regions above the scope are left out. Read from the region table, not by
    computing the top's figures again."""
    own = [{"code": area.code, "name": area.name}]
    code = area.code
    if area.level == "project":  # "p<id>": the project's region above it
        code = db.session.scalar(sa.select(Project.region_code).where(Project.id == int(area.code[1:])))
    try:
        path = region_path(session=db.session, code=code)
    except RegionNotFound:
        return own
    seen = [
        {"code": r.code, "name": r.name}
        for r in path
        if scope.all or not scope.regions or r.code in scope.regions
    ]
    return seen + own if area.level == "project" else seen


def _page_data(region, period) -> dict:
    """What the cockpit and the big screen render (and hand the charts as a JSON block)."""
    scope = _scope()
    area = service.overview(session=db.session, scope=scope, region=region, period=period)
    kids = service.children(session=db.session, scope=scope, region=region, period=period)
    return {
        "area": area,
        "as_of": as_of_text(area),
        "children": kids,
        "crumbs": _crumbs(scope, area),
        "period": period,
        "region": region,
        "indicators": catalogue.CATALOGUE,
        "by_code": catalogue.BY_CODE,
        "table_codes": [c for c in TABLE_CODES if c in catalogue.BY_CODE],
        "period_choices": _period_choices(period),
        "config": {
            "region": region or "",
            "period": period.key,
            "code": DEFAULT_CODE,
            "indicators": _indicators(),
            "texts": {"empty": _("没有数据"), "month": _("%(m)s月", m="{m}"), "projects": _("个项目")},
            "urls": {
                "page": request.base_url,
                "overview": url_for("kpi.api_overview"),
                "trend": url_for("kpi.api_trend"),
                "breakdown": url_for("kpi.api_breakdown"),
                "trace": url_for("kpi.trace_page"),
            },
        },
    }


def _bad_page(error, template: str):
    flash(str(error), "danger")
    return render_template(template, area=None, failed=True), 400


def _bad_json(error):
    return jsonify({"error": str(error)}), 400


@bp.get("/")
@require_permission("kpi.view")
def index():
    try:
        region, period = _args()
        data = _page_data(region, period)
    except service.KpiInputError as error:
        return _bad_page(error, "kpi/index.html")
    return render_template("kpi/index.html", **data)


@bp.get("/screen")
@require_permission("kpi.view")
def screen():
    try:
        region, period = _args()
        data = _page_data(region, period)
    except service.KpiInputError as error:
        return _bad_page(error, "kpi/screen.html")
    screen_codes = [c for c in SCREEN_CODES if c in catalogue.BY_CODE]
    return render_template("kpi/screen.html", screen_codes=screen_codes, **data)


@bp.get("/catalogue")
@require_permission("kpi.view")
def catalogue_page():
    return render_template("kpi/catalogue.html", indicators=catalogue.CATALOGUE)


@bp.get("/trace")
@require_permission("kpi.view")
def trace_page():
    try:
        region, period = _args()
        code = _code(default=None)
        scope = _scope()
        # One figure: not overview(), which computes every indicator and the children.
        name = service.area_name(session=db.session, scope=scope, region=region)
        value = service.figure(session=db.session, scope=scope, region=region, period=period, code=code)
        rows = service.trace(
            session=db.session, scope=scope, region=region, period=period, code=code, limit=TRACE_LIMIT
        )
    except service.KpiInputError as error:
        return _bad_page(error, "kpi/trace.html")
    numerators = [r.numerator for r in rows if r.numerator is not None]
    denominators = [r.denominator for r in rows if r.denominator is not None]
    return render_template(
        "kpi/trace.html",
        area={"name": name},
        period=period,
        region=region,
        indicator=catalogue.BY_CODE[code],
        value=value,
        rows=rows,
        truncated=len(rows) >= TRACE_LIMIT,
        numerator_sum=sum(numerators, Decimal(0)) if numerators else None,
        denominator_sum=sum(denominators, Decimal(0)) if denominators else None,
    )


@bp.get("/api/overview")
@require_permission("kpi.view")
def api_overview():
    try:
        region, period = _args()
        scope = _scope()
        area = service.overview(session=db.session, scope=scope, region=region, period=period)
        kids = service.children(session=db.session, scope=scope, region=region, period=period)
    except service.KpiInputError as error:
        return _bad_json(error)
    return jsonify(
        {"area": area_json(area), "children": [area_json(a) for a in kids], "period": period_json(period)}
    )


@bp.get("/api/trend")
@require_permission("kpi.view")
def api_trend():
    try:
        region, period = _args()
        code = _code()
        points = service.trend(session=db.session, scope=_scope(), region=region, code=code, period=period)
    except service.KpiInputError as error:
        return _bad_json(error)
    indicator = catalogue.BY_CODE[code]
    this_month = _today().strftime("%Y-%m")
    return jsonify(
        {
            "code": code,
            "name": indicator.name,
            "unit": indicator.unit,
            "period": period_json(period),
            # Months not begun yet (Beijing calendar) are drawn empty, not as the figure so far.
            "points": [
                {"month": month, "future": month > this_month, **value_json(value)} for month, value in points
            ],
        }
    )


@bp.get("/api/breakdown")
@require_permission("kpi.view")
def api_breakdown():
    try:
        region, period = _args()
        by = request.args.get("by") or "industry"
        if by not in service.BREAKDOWNS:
            raise service.KpiInputError(_("不能按“%(by)s”分组", by=by))
        rows = service.breakdown(session=db.session, scope=_scope(), region=region, period=period, by=by)
    except service.KpiInputError as error:
        return _bad_json(error)
    return jsonify(
        {
            "by": by,
            "period": period_json(period),
            "rows": [
                {
                    "key": key,
                    "values": {code: value_json(v) for code, v in values.items() if v is not None},
                }
                for key, values in rows
            ],
        }
    )


# --- performance evaluation (绩效评价): kpi.view reads, kpi.manage sets the scheme ---------------


def _evaluation_args():
    region, period = _args()
    evaluation.check_period(period)
    of = request.args.get("of") or "project"
    if of not in evaluation.OF:
        raise service.KpiInputError(_("评价对象只能是项目（project）或建设单位（unit）"))
    return region, period, of


def _scheme_choice() -> str | None:
    """?scheme=<version> (or "default"): choosing a version other than the one in force at the
    period's end is for kpi.manage only; None when someone else asks for one."""
    choice = (request.args.get("scheme") or "").strip()[:20]
    if choice and not has_permission(current_user, "kpi.manage"):
        return None
    return choice


def _scored(region, period, of, scheme):
    score = evaluation.score_units if of == "unit" else evaluation.score_projects
    return score(session=db.session, scope=_scope(), region=region, period=period, scheme=scheme)


def _ranking(choice: str):
    """What the ranking page and its exports share: (region, period, of, scheme, rows, name);
    the region is checked against the scope first (KpiInputError: 400)."""
    region, period, of = _evaluation_args()
    name = service.area_name(session=db.session, scope=_scope(), region=region)
    scheme = evaluation.chosen_scheme(session=db.session, period=period, choice=choice)
    rows = evaluation.ranked(_scored(region, period, of, scheme))
    return region, period, of, scheme, rows, name


def _region_picker(region) -> dict:
    """Breadcrumbs (as the cockpit's) and the regions one level down, for the region picker."""
    scope = _scope()
    place = evaluation.current_region(session=db.session, scope=scope, region=region)
    if place is None:
        return {"crumbs": [], "child_regions": []}
    area = SimpleNamespace(code=place.code, name=place.name, level=place.level)
    return {
        "crumbs": _crumbs(scope, area),
        "child_regions": evaluation.child_regions(session=db.session, scope=scope, code=place.code),
    }


@bp.get("/evaluation")
@require_permission("kpi.view")
def evaluation_page():
    choice = _scheme_choice()
    if choice is None:
        return forbidden(_("只有可设置评价方案的人员可以选择方案版本"))
    try:
        region, period, of, scheme, rows, name = _ranking(choice)
        picker = _region_picker(region)
        in_force = scheme if not choice else evaluation.scheme_for_period(session=db.session, period=period)
    except service.KpiInputError as error:
        flash(str(error), "danger")
        return render_template("kpi/evaluation.html", failed=True), 400
    manage = has_permission(current_user, "kpi.manage")
    return render_template(
        "kpi/evaluation.html",
        rows=rows,
        scheme=scheme,
        in_force=in_force,
        scheme_choice=choice or None,
        versions=evaluation.versions(session=db.session) if manage else [],
        default_choice=evaluation.DEFAULT_CHOICE,
        of=of,
        region=region,
        period=period,
        area_name=name,
        period_choices=_period_choices(period),
        crumb_args={"of": of, "scheme": choice or None},
        by_code=catalogue.BY_CODE,
        **picker,
    )


def _export_ranking(fmt: str):
    choice = _scheme_choice()
    if choice is None:
        return forbidden(_("只有可设置评价方案的人员可以选择方案版本"))
    try:
        region, period, of, scheme, rows, name = _ranking(choice)
    except service.KpiInputError as error:
        return _bad_json(error)
    headers, body = evaluation_export.table(rows, of=of, scheme=scheme)
    record(
        "data.export",
        object_type="kpi_evaluation",
        detail={
            "what": "evaluation_ranking",
            "format": fmt,
            "rows": len(body),
            "of": of,
            "region": region or "",
            "period": period.key,
            "scheme": scheme.id,
        },
    )
    db.session.commit()
    filename = f"evaluation-{of}-{period.key}-{datetime.now(service.SHANGHAI):%Y%m%d-%H%M%S}.{fmt}"
    headers_out = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if fmt == "csv":
        return Response(evaluation_export.to_csv(headers, body), mimetype="text/csv", headers=headers_out)
    about = [
        (_("地区"), name),
        (_("期间"), period.label),
        (_("评价对象"), _("建设单位") if of == "unit" else _("项目")),
        (_("评价方案"), scheme.name),
        (_("方案版本"), str(scheme.id) if scheme.id is not None else _("内置")),
    ]
    about += [
        (
            catalogue.BY_CODE[r.code].name,
            _("权重 %(w)s；%(rule)s", w=evaluation.plain(r.weight), rule=r.describe()),
        )
        for r in scheme.rules
    ]
    data = evaluation_export.to_xlsx(headers, body, about=about)
    return Response(data, mimetype=evaluation_export.XLSX_MIMETYPE, headers=headers_out)


@bp.get("/evaluation/export.csv")
@require_permission("kpi.view")
@require_permission("export.data")
def evaluation_export_csv():
    return _export_ranking("csv")


@bp.get("/evaluation/export.xlsx")
@require_permission("kpi.view")
@require_permission("export.data")
def evaluation_export_xlsx():
    return _export_ranking("xlsx")


@bp.get("/evaluation/item")
@require_permission("kpi.view")
def evaluation_item():
    choice = _scheme_choice()
    if choice is None:
        return forbidden(_("只有可设置评价方案的人员可以选择方案版本"))
    try:
        region, period, of = _evaluation_args()
        key = request.args.get("id", "")
        if not key.isdigit():
            raise service.KpiInputError(_("请选择要查看的项目或建设单位"))
        scope = _scope()
        service.area_name(session=db.session, scope=scope, region=region)  # the region is in scope
        scheme = evaluation.chosen_scheme(session=db.session, period=period, choice=choice)
        # This one item's score from its own figures: ranking the whole region to find it was
        # the cost of the ranking page per click. Its rank is on the ranking page.
        where = {"session": db.session, "scope": scope, "region": region, "period": period, "scheme": scheme}
        if of == "unit":
            item = evaluation.score_unit(**where, unit_id=int(key))
        else:
            item = evaluation.score_project(**where, project_id=int(key))
    except service.KpiInputError as error:
        flash(str(error), "danger")
        return render_template("kpi/evaluation_item.html", failed=True), 400
    return render_template(
        "kpi/evaluation_item.html",
        item=item,
        scheme=scheme,
        scheme_choice=choice or None,
        of=of,
        region=region,
        period=period,
        by_code=catalogue.BY_CODE,
    )


def _render_scheme(*, values: dict, name: str, errors: dict, status: int = 200):
    return (
        render_template(
            "kpi/evaluation_scheme.html",
            active=evaluation.active_scheme(session=db.session),
            versions=evaluation.versions(session=db.session),
            indicators=catalogue.CATALOGUE,
            indicator_names={i.code: i.name for i in catalogue.CATALOGUE},
            values=values,
            name=name,
            errors=errors,
        ),
        status,
    )


def _scheme_values(scheme) -> dict:
    return {
        r.code: {
            "weight": evaluation.plain(r.weight),
            "full": evaluation.plain(r.full),
            "zero": evaluation.plain(r.zero),
        }
        for r in scheme.rules
    }


@bp.get("/evaluation/scheme")
@require_permission("kpi.view")
def evaluation_scheme():
    active = evaluation.active_scheme(session=db.session)
    return _render_scheme(values=_scheme_values(active), name=active.name, errors={})


@bp.post("/evaluation/scheme")
@require_permission("kpi.manage")
def save_evaluation_scheme():
    name = (request.form.get("name") or "").strip()[:200]
    values = {
        i.code: {
            f: (request.form.get(f"{i.code}.{f}") or "").strip()[:40] for f in ("weight", "full", "zero")
        }
        for i in catalogue.CATALOGUE
    }
    try:
        row = evaluation.save_scheme(session=db.session, name=name, items=values, by=current_user.username)
    except evaluation.SchemeError as exc:
        db.session.rollback()
        flash(_("评价方案未保存，请修改标出的项"), "danger")
        errors = {field: _(message) for field, message in exc.errors.items()}
        return _render_scheme(values=values, name=name, errors=errors, status=400)
    record(
        "config.change",
        object_type="kpi_evaluation_scheme",
        object_id=str(row.id),
        detail={"name": row.name, "items": row.items},
    )
    db.session.commit()
    flash(_("已保存评价方案（新版本）"), "success")
    return redirect(url_for("kpi.evaluation_scheme"))
