"""JSON API of the designer (the modeler page's back end). Thin: rules in designer/service.py.
Only designers (and admins) may read or change definitions here."""

from functools import wraps

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from backend.authz import has_permission
from backend.designer import service
from backend.designer.service import DesignerError, Invalid
from backend.extensions import db

bp = Blueprint("designer", __name__, template_folder="templates")


def _error(message, status: int, code: str | None = None):
    """`message` may be lazy (designer/messages.py): str() gives the request's language."""
    body = {"error": str(message)}
    if code:
        body["code"] = code
    return jsonify(body), status


def designer_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return _error(_("请先登录"), 403)
        if not has_permission(current_user, "process.deploy"):
            return _error(_("只有流程设计人员可以使用流程设计器"), 403)
        try:
            return view(*args, **kwargs)
        except Invalid as exc:
            db.session.rollback()
            return jsonify({"error": str(exc.message), "code": exc.code, "problems": exc.problems}), 422
        except DesignerError as exc:
            db.session.rollback()
            return _error(exc.message, exc.status, exc.code)
        except IntegrityError:
            # Two designers stored the same key or version at once: the later one retries.
            db.session.rollback()
            return _error(_("其他人刚刚修改了这个流程, 请刷新后重试"), 409)

    return wrapped


def _forms_dir() -> str:
    return current_app.config["FORMS_DIR"]


def _json_xml() -> str:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("xml"), str):
        raise DesignerError(_("请求体应为含 xml 字段的 JSON"))
    return body["xml"]


def _int_arg(value, label: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DesignerError(_("%(label)s 应为版本号", label=label)) from None


@bp.get("/designer/api/processes")
@designer_required
def processes():
    return jsonify(service.list_processes(session=db.session))


@bp.get("/designer/api/processes/<key>/xml")
@designer_required
def process_xml(key):
    return jsonify(service.get_xml(session=db.session, key=key, source=request.args.get("source", "latest")))


@bp.put("/designer/api/processes/<key>/draft")
@designer_required
def save_draft(key):
    draft, problems = service.save_draft(
        session=db.session,
        key=key,
        xml=_json_xml(),
        saved_by=current_user.username,
        forms_dir=_forms_dir(),
    )
    db.session.commit()
    return jsonify({"saved_at": draft.saved_at.isoformat(), "problems": problems})


@bp.post("/designer/api/validate")
@designer_required
def validate():
    problems = service.validate(xml=_json_xml(), forms_dir=_forms_dir())
    return jsonify({"ok": not any(p["severity"] == "error" for p in problems), "problems": problems})


@bp.post("/designer/api/processes/<key>/deploy")
@designer_required
def deploy(key):
    stored, created = service.deploy(
        session=db.session,
        key=key,
        xml=_json_xml(),
        deployed_by=current_user.username,
        forms_dir=_forms_dir(),
    )
    db.session.commit()
    return jsonify({"version": stored.version, "created": created})


@bp.get("/designer/api/processes/<key>/versions")
@designer_required
def versions(key):
    return jsonify(service.versions(session=db.session, key=key))


@bp.get("/designer/api/processes/<key>/diff")
@designer_required
def diff(key):
    return jsonify(
        service.diff(
            session=db.session,
            key=key,
            from_version=_int_arg(request.args.get("from"), "from"),
            to_version=_int_arg(request.args.get("to"), "to"),
        )
    )


@bp.post("/designer/api/processes/<key>/rollback")
@designer_required
def rollback(key):
    body = request.get_json(silent=True) or {}
    stored = service.rollback(
        session=db.session,
        key=key,
        version=_int_arg(body.get("version"), "version"),
        deployed_by=current_user.username,
        forms_dir=_forms_dir(),
    )
    db.session.commit()
    return jsonify({"version": stored.version})


@bp.get("/designer/processes/<key>/versions/<int:version>.bpmn")
@designer_required
def export(key, version):
    found = service.definition(session=db.session, key=key, version=version)
    return Response(
        found.source_xml,
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{key}_v{version}.bpmn"'},
    )


@bp.post("/designer/api/import")
@designer_required
def import_file():
    upload = request.files.get("file")
    if upload is None:
        raise DesignerError(_("请选择要导入的 .bpmn 文件"))
    imported = service.import_file(data=upload.read(), filename=upload.filename, forms_dir=_forms_dir())
    return jsonify(
        {
            "key": imported.key,
            "xml": imported.xml,
            "warnings": imported.warnings,
            "unsupported": imported.unsupported,
            "problems": imported.problems,
        }
    )


@bp.get("/designer/api/forms")
@designer_required
def forms():
    return jsonify(service.forms(session=db.session, forms_dir=_forms_dir()))


@bp.get("/designer/api/operations")
@designer_required
def operations():
    return jsonify(service.operations())


@bp.get("/designer/api/groups")
@designer_required
def groups():
    return jsonify(service.groups())
