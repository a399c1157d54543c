"""The API's pages: the OpenAPI document, the browsable reference (/api/v1/docs) and the
admins' API-key page (/admin/api-keys). Thin: keys.py holds the rules."""

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from backend.api import keys, spec
from backend.api.operations import OPERATIONS, bp
from backend.authz import forbidden, has_permission
from backend.db import utcnow
from backend.extensions import db
from backend.org.models import Region
from backend.workdays.service import SHANGHAI

admin_bp = Blueprint("api_admin", __name__, url_prefix="/admin/api-keys", template_folder="templates")

SCOPE_LABELS = {
    "processes:read": _l("读取流程定义"),
    "instances:read": _l("读取流程实例"),
    "instances:write": _l("发起流程"),
    "tasks:read": _l("读取待办任务"),
    "tasks:write": _l("签收与办理任务"),
    "messages:write": _l("发送消息"),
    "projects:read": _l("读取项目"),
    "contracts:read": _l("读取合同与支付"),
    "tickets:read": _l("读取整改工单"),
    "funds:read": _l("读取项目资金"),
    "funds:write": _l("导入资金下达"),
    "schedule:read": _l("读取任务分解与进度"),
    "schedule:write": _l("填报任务进度"),
}


@bp.get("/openapi.json")
def openapi_document():
    return spec.document()


@bp.get("/docs")
def docs():
    document = spec.document()
    return render_template(
        "api/docs.html",
        document=document,
        operations=sorted(OPERATIONS, key=lambda op: (op.tag, op.path, op.method)),
        schemas=document["components"]["schemas"],
        scope_labels=SCOPE_LABELS,
    )


# --- admin: API keys -------------------------------------------------------------------------


@admin_bp.before_request
@login_required
def _admins_only():
    if not has_permission(current_user, "config.manage"):
        return forbidden()


def _regions() -> list[Region]:
    return list(db.session.scalars(sa.select(Region).order_by(Region.code)))


def _render(*, created=None, secret=None, values=None, errors=None, status=200):
    return (
        render_template(
            "api/keys.html",
            keys=keys.list_keys(session=db.session),
            regions=_regions(),
            scope_labels=SCOPE_LABELS,
            created=created,
            secret=secret,
            values=values or {"scopes": []},
            errors=errors or {},
            now=utcnow(),
        ),
        status,
    )


@admin_bp.get("")
def index():
    return _render()


def _expiry(raw: str) -> tuple[datetime | None, str | None]:
    """A date entered means the end of that day in Shanghai."""
    if not raw:
        return None, None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return None, _("请输入有效的日期")
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=SHANGHAI), None


@admin_bp.post("")
def create():
    form = request.form
    values = {
        "name": form.get("name", "").strip(),
        "owner": form.get("owner", "").strip(),
        "region_code": form.get("region_code", ""),
        "scopes": form.getlist("scopes"),
        "expires_on": form.get("expires_on", "").strip(),
    }
    expires_at, expiry_error = _expiry(values["expires_on"])
    try:
        key, secret = keys.create_key(
            session=db.session,
            name=values["name"],
            owner=values["owner"],
            scopes=values["scopes"],
            region_code=values["region_code"],
            created_by=current_user.username,
            expires_at=expires_at,
        )
        if expiry_error:
            raise keys.ApiKeyInvalid({"expires_at": expiry_error})
    except keys.ApiKeyInvalid as exc:
        db.session.rollback()
        return _render(values=values, errors=exc.errors, status=422)
    db.session.commit()
    # The secret is in this response only: it is stored as its hash.
    response = _render(created=key, secret=secret)
    return response[0], 201, {"Cache-Control": "no-store"}


@admin_bp.post("/<int:key_id>/revoke")
def revoke(key_id: int):
    try:
        key = keys.revoke_key(session=db.session, key_id=key_id, actor=current_user.username)
    except keys.ApiKeyNotFound:
        abort(404)
    db.session.commit()
    flash(_("API 密钥 %(name)s 已吊销", name=key.name), "success")
    return redirect(url_for("api_admin.index"))
