"""POST /api/v1/projects/<code>/allocations: 资金下达 imported from the finance system.
Idempotent by the finance system's document number. Imported by backend/api/__init__.py so the
operation is on the API blueprint (and in the OpenAPI document) before it is registered."""

from decimal import Decimal

from flask import Response, json
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy.exc import IntegrityError

from backend.api import service as queries
from backend.api.operations import operation
from backend.api.problems import problem
from backend.api.schemas import MoneyField
from backend.audit import record
from backend.extensions import db
from backend.funds import service as funds


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
