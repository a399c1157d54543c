"""The WBS of a project for integrators: GET /api/v1/projects/<code>/wbs (items with computed
progress, dates, dependencies, critical/overdue flags, summary figures), and an item's progress
history and new progress reports: GET/POST /api/v1/projects/<code>/wbs/<item_code>/progress.
Imported by backend/api/__init__.py so the operations are on the API blueprint (and in the
OpenAPI document). Who sees and who reports: backend/schedule/access.py, as the pages."""

from collections import defaultdict

import sqlalchemy as sa
from flask import Response, json, url_for
from flask_babel import gettext as _
from marshmallow import Schema, fields, validate

from backend.api.auth import Refused, not_found
from backend.api.operations import operation
from backend.api.problems import problem
from backend.api.schemas import MoneyField, Time
from backend.db import utcnow
from backend.extensions import db
from backend.files.models import StoredFile
from backend.org.models import Unit
from backend.schedule import access, service
from backend.schedule.models import WbsItem, WbsProgress
from backend.workdays.service import local_date


class PercentField(MoneyField):
    """A percentage 0.00–100.00 as a string with two decimals (numbers are accepted in bodies);
    documented as a string like money (spec.py maps MoneyField and its subclasses)."""


def Percent(*, metadata: dict | None = None, **kwargs):  # noqa: N802  (reads as a field type)
    return PercentField(places=2, as_string=True, metadata={"example": "40.00", **(metadata or {})}, **kwargs)


class WbsItemSchema(Schema):
    code = fields.String(required=True, metadata={"example": "1.2"})
    name = fields.String(required=True)
    level = fields.Integer(required=True)
    parent_code = fields.String(required=True, allow_none=True)
    leaf = fields.Boolean(required=True, metadata={"description": "progress is reported on leaves only"})
    unit_id = fields.Integer(required=True, allow_none=True)
    unit_name = fields.String(required=True, allow_none=True)
    responsible = fields.String(required=True, allow_none=True, metadata={"description": "username"})
    planned_start = fields.Date(required=True)
    planned_end = fields.Date(required=True)
    actual_start = fields.Date(required=True, allow_none=True)
    actual_end = fields.Date(required=True, allow_none=True)
    weight = fields.Decimal(required=True, as_string=True, metadata={"type": "string", "example": "1"})
    is_milestone = fields.Boolean(required=True)
    payment_milestone_id = fields.Integer(required=True, allow_none=True)
    progress = Percent(required=True, metadata={"description": "physical progress; parents rolled up"})
    planned_progress = Percent(
        required=True, allow_none=True, metadata={"description": "planned at `today` (latest baseline)"}
    )
    predecessors = fields.List(fields.String(), required=True, metadata={"description": "finish-to-start"})
    critical = fields.Boolean(required=True)
    overdue = fields.Boolean(required=True)


class WbsSummarySchema(Schema):
    progress = Percent(required=True, metadata={"description": "形象进度 of the project"})
    planned_progress = Percent(required=True, allow_none=True)
    deviation = fields.Decimal(
        required=True,
        allow_none=True,
        as_string=True,
        metadata={"type": "string", "example": "-5.00"},
    )
    forecast_end = fields.Date(required=True, allow_none=True)
    duration_deviation_rate = fields.Decimal(
        required=True,
        allow_none=True,
        as_string=True,
        metadata={
            "type": "string",
            "description": "预计工期偏差率 (forecast duration deviation), 0.2500 = 25 % longer",
        },
    )
    baseline = fields.Integer(required=True, allow_none=True)
    items = fields.Integer(required=True)
    overdue = fields.Integer(required=True)
    critical = fields.Integer(required=True)


class WbsSchema(Schema):
    project_code = fields.String(required=True)
    today = fields.Date(required=True, metadata={"description": "the Asia/Shanghai date of the figures"})
    summary = fields.Nested(WbsSummarySchema, required=True)
    items = fields.List(fields.Nested(WbsItemSchema), required=True)


class WbsProgressFileSchema(Schema):
    sha256 = fields.String(required=True)
    name = fields.String(required=True)
    content_type = fields.String(required=True, allow_none=True)
    url = fields.String(required=True, metadata={"description": "GET with the same credentials' session"})


class WbsProgressSchema(Schema):
    id = fields.Integer(required=True)
    item_code = fields.String(required=True)
    percent = Percent(required=True)
    note = fields.String(required=True)
    actual_start = fields.Date(required=True, allow_none=True)
    actual_end = fields.Date(required=True, allow_none=True)
    recorded_by = fields.String(required=True, allow_none=True)
    recorded_at = Time(required=True)
    files = fields.List(fields.Nested(WbsProgressFileSchema), required=True)


class WbsProgressPageSchema(Schema):
    item_code = fields.String(required=True)
    items = fields.List(
        fields.Nested(WbsProgressSchema), required=True, metadata={"description": "newest first"}
    )


class WbsProgressBodySchema(Schema):
    """A progress report on a leaf. Empty dates: the first report above 0 starts today, 100 ends today."""

    percent = PercentField(
        required=True,
        validate=validate.Range(min=0, max=100),
        metadata={"example": "40", "description": "0–100, two decimals at most"},
    )
    actual_start = fields.Date(load_default=None, allow_none=True)
    actual_end = fields.Date(load_default=None, allow_none=True, metadata={"description": "only with 100"})
    note = fields.String(load_default="", validate=validate.Length(max=2000))


def _json(payload, status: int = 200) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False), status=status, mimetype="application/json")


def _project(principal, code: str):
    project = access.find_project(session=db.session, user=principal.user, code=code, scope=principal.scope)
    if project is None:
        raise Refused(not_found(_("项目不存在: %(code)s", code=code)))
    return project


def _item(project, item_code: str) -> WbsItem:
    item = access.find_item(session=db.session, project=project, code=item_code)
    if item is None:
        raise Refused(not_found(_("任务不存在: %(code)s", code=item_code)))
    return item


@operation(
    "GET",
    "/projects/<code>/wbs",
    scope="schedule:read",
    summary="The work breakdown (WBS) of a project with computed progress and flags",
    tag="schedule",
    responses={200: WbsSchema},
    path_params={"code": "string"},
)
def get_wbs(principal, *, args, body, code):
    """Every item in code order; figures at today's Asia/Shanghai date, planned progress from
    the latest baseline (null without one)."""
    project = _project(principal, code)
    today = local_date(utcnow())
    items = service.items_of(session=db.session, project_id=project.id)
    figures = service.summary(session=db.session, project_id=project.id, at=today)
    by_id = {item.id: item for item in items}
    parents = {item.parent_id for item in items}
    predecessors = defaultdict(list)
    for p, s in service.dependencies_of(session=db.session, project_id=project.id):
        predecessors[s].append(by_id[p].code)
    units = dict(
        db.session.execute(sa.select(Unit.id, Unit.name).where(Unit.id.in_({i.unit_id for i in items}))).all()
    )
    overdue = {item.id for item in figures.overdue}
    baseline = service.baseline_of(session=db.session, project_id=project.id)
    rows = [
        {
            "code": item.code,
            "name": item.name,
            "level": item.level,
            "parent_code": by_id[item.parent_id].code if item.parent_id else None,
            "leaf": item.id not in parents,
            "unit_id": item.unit_id,
            "unit_name": units.get(item.unit_id),
            "responsible": item.responsible,
            "planned_start": item.planned_start,
            "planned_end": item.planned_end,
            "actual_start": item.actual_start,
            "actual_end": item.actual_end,
            "weight": item.weight.normalize(),
            "is_milestone": item.is_milestone,
            "payment_milestone_id": item.payment_milestone_id,
            "progress": figures.progress[item.id],
            "planned_progress": figures.planned.get(item.id) if figures.planned else None,
            "predecessors": sorted(predecessors[item.id], key=service.code_key),
            "critical": item.id in figures.critical,
            "overdue": item.id in overdue,
        }
        for item in items
    ]
    fc = figures.forecast
    payload = {
        "project_code": project.code,
        "today": today,
        "summary": {
            "progress": figures.progress[None],
            "planned_progress": figures.planned[None] if figures.planned else None,
            "deviation": figures.deviation,
            "forecast_end": fc.end if fc else None,
            "duration_deviation_rate": fc.deviation_rate if fc else None,
            "baseline": baseline.number if baseline else None,
            "items": len(items),
            "overdue": len(overdue),
            "critical": len(figures.critical),
        },
        "items": rows,
    }
    return _json(WbsSchema().dump(payload))


def _entries(item: WbsItem, entries: list[WbsProgress]) -> list[dict]:
    hashes = {f.sha256 for entry in entries for f in entry.files}
    types = dict(
        db.session.execute(
            sa.select(StoredFile.sha256, StoredFile.content_type).where(StoredFile.sha256.in_(hashes))
        ).all()
    )
    return [
        {
            "id": entry.id,
            "item_code": item.code,
            "percent": entry.percent,
            "note": entry.note,
            "actual_start": entry.actual_start,
            "actual_end": entry.actual_end,
            "recorded_by": entry.recorded_by,
            "recorded_at": entry.recorded_at,
            "files": [
                {
                    "sha256": f.sha256,
                    "name": f.name,
                    "content_type": types.get(f.sha256),
                    "url": url_for("files.download", sha256=f.sha256),
                }
                for f in entry.files
            ],
        }
        for entry in entries
    ]


@operation(
    "GET",
    "/projects/<code>/wbs/<item_code>/progress",
    scope="schedule:read",
    summary="The progress history of one WBS item, newest first, with its evidence files",
    tag="schedule",
    responses={200: WbsProgressPageSchema},
    path_params={"code": "string", "item_code": "string"},
)
def list_progress(principal, *, args, body, code, item_code):
    project = _project(principal, code)
    item = _item(project, item_code)
    entries = list(
        db.session.scalars(
            sa.select(WbsProgress)
            .where(WbsProgress.item_id == item.id)
            .order_by(WbsProgress.recorded_at.desc(), WbsProgress.id.desc())
        )
    )
    return _json(WbsProgressPageSchema().dump({"item_code": item.code, "items": _entries(item, entries)}))


@operation(
    "POST",
    "/projects/<code>/wbs/<item_code>/progress",
    scope="schedule:write",
    summary="Report progress on a leaf of the WBS (percent, actual dates, note)",
    tag="schedule",
    body=WbsProgressBodySchema,
    responses={201: WbsProgressSchema},
    path_params={"code": "string", "item_code": "string"},
)
def report_progress(principal, *, args, body, code, item_code):
    """Who may: the item's responsible person, people of its responsible unit, the owner unit's
    planners (besides the scope's permission). Evidence files are attached on the page."""
    project = _project(principal, code)
    item = _item(project, item_code)
    if not access.may_report(principal.user, item, project):
        return problem(403, _("无权访问"), _("您不是该任务的责任人, 不能填报进度"))
    try:
        entry = service.record_progress(
            session=db.session,
            item=item,
            percent=body["percent"],
            by=principal.user.username,
            note=body["note"],
            actual_start=body["actual_start"],
            actual_end=body["actual_end"],
        )
    except service.ScheduleError as exc:
        db.session.rollback()
        return problem(422, _("请求数据校验失败"), str(exc), errors={"_body": [str(exc)]})
    db.session.commit()
    return _json(WbsProgressSchema().dump(_entries(item, [entry])[0]), status=201)
