"""POST /api/v1/projects/<code>/allocations: 资金下达 imported from the finance system,
idempotent by the finance system's document number; GET the allocations, and GET
/projects/<code>/funds: the figures (scope funds:read, permission funds.read). Imported by
backend/api/__init__.py so the operations are on the API blueprint (and in the OpenAPI
document) before it is registered."""

from decimal import Decimal

import sqlalchemy as sa
from flask import Response, json
from flask_babel import gettext as _
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy.exc import IntegrityError

from backend.api import service as queries
from backend.api.auth import Refused
from backend.api.operations import decode_cursor, encode_cursor, operation
from backend.api.problems import problem
from backend.api.schemas import Money, MoneyField, QuerySchema, page_of
from backend.audit import record
from backend.db import utcnow
from backend.extensions import db
from backend.funds import service as funds
from backend.funds.models import Allocation
from backend.funds.service import Figures
from backend.workdays.service import local_date


def _two_places(value: Decimal) -> None:
    if value != value.quantize(Decimal("0.01")):
        raise ValidationError(_("金额最多保留两位小数 (元)"))
    if value <= 0:
        raise ValidationError(_("金额须大于零"))


class AllocationBodySchema(Schema):
    """One allocation document of the finance system."""

    document_number = fields.String(
        required=True, validate=validate.Length(min=1, max=60), metadata={"example": "CZ-2026-000123"}
    )
    year = fields.Integer(required=True, validate=validate.Range(min=2000, max=2100))
    source = fields.String(
        required=True, validate=validate.Length(min=1, max=60), metadata={"example": "中央预算内"}
    )
    amount = MoneyField(
        required=True,
        as_string=True,
        validate=_two_places,
        metadata={"example": "1234.50", "pattern": r"^\d+(\.\d{1,2})?$"},
    )
    allocated_on = fields.Date(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class AllocationSchema(Schema):
    document_number = fields.String(required=True)
    project_code = fields.String(required=True, attribute="project.code")
    year = fields.Integer(required=True)
    source = fields.String(required=True)
    amount = MoneyField(places=2, as_string=True, required=True)
    allocated_on = fields.Date(required=True)
    note = fields.String()
    imported_by = fields.String()
    imported_at = fields.AwareDateTime(format="iso")


@operation(
    "POST",
    "/projects/<code>/allocations",
    scope="funds:write",
    summary="Import one allocation (资金下达) of the finance system; idempotent by document_number",
    tag="funds",
    body=AllocationBodySchema,
    responses={200: AllocationSchema, 201: AllocationSchema, 409: None},
    path_params={"code": "string"},
)
def import_allocation(principal, *, args, body, code):
    """The same document again answers 200 with the stored row; the same number with other
    content is a 409 conflict."""
    what = _("项目不存在: %(code)s", code=code)
    project = queries.project_by_code(session=db.session, code=code)
    if project is None:
        return problem(404, _("资源不存在"), what)
    principal.require_project(project, what=what)
    try:
        try:
            row, created = funds.import_allocation(
                session=db.session, project=project, imported_by=principal.user.username, **body
            )
        except IntegrityError:
            # The same document sent twice at once: the other request's row is now there.
            db.session.rollback()
            row, created = funds.import_allocation(
                session=db.session, project=project, imported_by=principal.user.username, **body
            )
    except funds.AllocationConflict:
        db.session.rollback()
        return problem(
            409,
            _("资源状态冲突"),
            _("单据号已导入, 内容不一致"),
            errors={"document_number": [_("单据号已导入, 内容不一致")]},
        )
    if created:
        record(
            "funds.allocation_import",
            object_type="fund_allocation",
            object_id=row.document_number,
            detail={
                "project": project.code,
                "amount": str(row.amount),
                "year": row.year,
                "source": row.source,
            },
            user=principal.user,
        )
    db.session.commit()
    payload = json.dumps(AllocationSchema().dump(row), ensure_ascii=False)
    return Response(payload, status=201 if created else 200, mimetype="application/json")


# --- reading: GET allocations and the funds figures (scope funds:read) -------------------------


class AllocationQuerySchema(QuerySchema):
    year = fields.Integer(validate=validate.Range(min=2000, max=2100))


AllocationPage = page_of(AllocationSchema, "AllocationPage")


@operation(
    "GET",
    "/projects/<code>/allocations",
    scope="funds:read",
    summary="The project's allocations (资金下达), newest first",
    tag="funds",
    query=AllocationQuerySchema,
    responses={200: AllocationPage},
    path_params={"code": "string"},
)
def list_allocations(principal, *, args, body, code):
    project = _readable_project(principal, code)
    after = decode_cursor(args["cursor"], types=(int,)) if args.get("cursor") else None
    query = sa.select(Allocation).where(Allocation.project_id == project.id)
    if args.get("year"):
        query = query.where(Allocation.year == args["year"])
    if after:
        query = query.where(Allocation.id < after[0])
    rows = list(db.session.scalars(query.order_by(Allocation.id.desc()).limit(args["limit"] + 1)))
    more = len(rows) > args["limit"]
    rows = rows[: args["limit"]]
    payload = {
        "items": AllocationSchema(many=True).dump(rows),
        "next_cursor": encode_cursor([rows[-1].id]) if more else None,
    }
    return Response(json.dumps(payload, ensure_ascii=False), mimetype="application/json")


def _money(description: str = "") -> MoneyField:
    meta = {"example": "1234.50", "pattern": r"^-?\d+\.\d{2}$"}
    return MoneyField(places=2, as_string=True, required=True, metadata={**meta, "description": description})


def Rate(**kwargs):  # noqa: N802  (reads as a field type)
    return MoneyField(
        places=2,
        as_string=True,
        allow_none=True,
        metadata={
            "example": "25.05",
            "pattern": r"^\d+\.\d{2}$",
            "description": "A percentage, 2 places; null when the denominator is missing or zero",
        },
        **kwargs,
    )


class BudgetLineSchema(Schema):
    year = fields.Integer(required=True)
    source = fields.String(required=True)
    amount = Money(required=True)
    drawn = _money("What payments (not returned) draw on the line")


class FundsQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    year = fields.Integer(
        validate=validate.Range(min=2000, max=2100),
        metadata={
            "description": "The plan year of the annual figures; default the current year (Asia/Shanghai)"
        },
    )


class FundsSchema(Schema):
    """The funds figures of a project (definitions: backend/funds/service.py)."""

    project_code = fields.String(required=True)
    year = fields.Integer(required=True)
    annual_plan = _money("年度计划投资: the budget lines of the year")
    completed_year = _money("完成投资 in the year (current reports)")
    completed_total = _money("累计完成投资")
    total_investment = Money(required=True)
    allocated = _money("资金下达, all years")
    paid = _money("Disbursed payments of the project's contracts")
    year_completion_rate = Rate(required=True)
    total_completion_rate = Rate(required=True)
    disbursement_rate = Rate(required=True)
    budget_lines = fields.List(fields.Nested(BudgetLineSchema), required=True)


@operation(
    "GET",
    "/projects/<code>/funds",
    scope="funds:read",
    summary="The project's funds figures: annual plan, investment completed, rates, allocated, paid",
    tag="funds",
    query=FundsQuerySchema,
    responses={200: FundsSchema},
    path_params={"code": "string"},
)
def project_funds(principal, *, args, body, code):
    """Money is a string with two decimals; rates are percentages (null without a denominator)."""
    project = _readable_project(principal, code)
    year = args.get("year") or local_date(utcnow()).year
    figures = funds.figures(session=db.session, project=project, year=year)
    lines = [line for line in funds.budget_lines(session=db.session, project=project) if line.year == year]
    drawn = funds.drawn_on_lines(session=db.session, line_ids=[line.id for line in lines])
    payload = FundsSchema().dump(
        {
            "project_code": project.code,
            **{name: getattr(figures, name) for name in Figures.__dataclass_fields__},
            "budget_lines": [
                {
                    "year": line.year,
                    "source": line.source,
                    "amount": line.amount,
                    "drawn": drawn.get(line.id, 0),
                }
                for line in lines
            ],
        }
    )
    return Response(json.dumps(payload, ensure_ascii=False), mimetype="application/json")


def _readable_project(principal, code: str):
    what = _("项目不存在: %(code)s", code=code)
    project = queries.project_by_code(session=db.session, code=code)
    if project is None:
        raise Refused(problem(404, _("资源不存在"), what))
    principal.require_project(project, what=what)
    return project
