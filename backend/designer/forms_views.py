"""The form editor: its pages (list, editor) and its JSON API (live preview drawn by the task
page's own macro, trial validation, versions, save, redeploy of the processes using a form).
Thin: the rules are in designer/forms_service.py and forms/store.py."""

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from backend.designer import forms_service as service
from backend.designer.pages import designer_required as designer_page
from backend.designer.service import DesignerError
from backend.designer.views import designer_required
from backend.extensions import db
from backend.forms.choices import with_choices
from backend.forms.parse import apply_row_action, parse_submission
from backend.forms.validate import validate

bp = Blueprint("designer_forms", __name__, template_folder="templates")

# Fields of the trial form that are the editor's, not the form's.
_OWN_FIELDS = {"_schema", "csrf_token", "_add", "_remove"}


# --- pages --------------------------------------------------------------------------------


@bp.get("/designer/forms")
@designer_page
def index():
    forms = service.list_forms(session=db.session)
    db.session.commit()  # a changed file found on the way is stored as the form's newest version
    return render_template("designer/forms.html", forms=forms)


@bp.get("/designer/forms/new")
@designer_page
def new():
    return render_template("designer/forms_editor.html", name=None)


@bp.get("/designer/forms/<name>")
@designer_page
def editor(name):
    try:
        service.check_name(name)
    except DesignerError:
        abort(404)
    return render_template("designer/forms_editor.html", name=name)


# --- API ----------------------------------------------------------------------------------


def _schema_text() -> str:
    if request.is_json:
        body = request.get_json(silent=True)
        text = body.get("text") if isinstance(body, dict) else None
    else:
        text = request.form.get("_schema")
    if not isinstance(text, str):
        raise DesignerError(_("请求体应含表单定义 text"))
    return text


def _preview_html(schema: dict, *, values=None, errors=None) -> str:
    """The form as the task page draws it: same macro, same options for the current person."""
    schema = with_choices(schema, session=db.session, user=current_user, values=values)
    return render_template(
        "designer/forms_preview.html", schema=schema, values=values or {}, errors=errors or {}
    )


def _drawn(checked, **kwargs) -> tuple[str | None, list[dict]]:
    if not isinstance(checked.schema, dict):
        return None, []
    try:
        return _preview_html(checked.schema, **kwargs), []
    except Exception as exc:  # noqa: BLE001  (a schema can break the renderer in any way: show it)
        current_app.logger.info("form preview failed: %r", exc)
        return None, [service.render_failure(exc)]


@bp.post("/designer/api/forms/preview")
@designer_required
def preview():
    checked = service.check(_schema_text())
    html, failed = _drawn(checked)
    known = {p["message"] for p in checked.problems}
    problems = checked.problems + [p for p in failed if p["message"] not in known]
    return jsonify({"html": html, "problems": problems, "ok": html is not None and checked.ok and not failed})


@bp.post("/designer/api/forms/preview/validate")
@designer_required
def preview_validate():
    """The filled trial form parsed and validated as the task page's submit does (no files kept)."""
    checked = service.check(_schema_text())
    if not isinstance(checked.schema, dict):
        return jsonify({"error": _("表单定义有错误, 无法试填"), "problems": checked.problems}), 422
    schema = with_choices(checked.schema, session=db.session, user=current_user)
    fields = MultiDict([(k, v) for k, v in request.form.items(multi=True) if k not in _OWN_FIELDS])
    actions = MultiDict([(k, v) for k, v in request.form.items(multi=True) if k in ("_add", "_remove")])
    data = parse_submission(schema, fields, {})
    if actions and apply_row_action(schema, data, actions):
        html, failed = _drawn(checked, values=data)
        return jsonify({"html": html, "errors": {}, "data": data, "row_action": True, "problems": failed})
    errors = validate(schema, data)
    html, failed = _drawn(checked, values=data, errors=errors)
    return jsonify({"html": html, "errors": errors, "data": data, "row_action": False, "problems": failed})


@bp.get("/designer/api/forms/<name>")
@designer_required
def detail(name):
    found = service.form_detail(session=db.session, name=name)
    db.session.commit()  # as the list: a changed file becomes the newest version
    return jsonify(found)


@bp.get("/designer/api/forms/<name>/versions/<int:version>")
@designer_required
def version(name, version):
    row = service.version_of(session=db.session, name=name, version=version)
    return jsonify({**service.version_dict(row), **service.schema_of(row)})


@bp.get("/designer/forms/<name>/versions/<int:version>.json")
@designer_required
def download(name, version):
    row = service.version_of(session=db.session, name=name, version=version)
    stem = name.removesuffix(".json")
    return Response(
        service.schema_of(row)["text"],
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{stem}_v{version}.json"'},
    )


@bp.put("/designer/api/forms/<name>")
@designer_required
def save(name):
    row, created = service.save(
        session=db.session, name=name, text=_schema_text(), saved_by=current_user.username
    )
    detail = service.form_detail(session=db.session, name=name)
    db.session.commit()
    return jsonify({**detail, "version": row.version, "created": created})


@bp.post("/designer/api/forms/<name>/redeploy")
@designer_required
def redeploy(name):
    deployed = service.redeploy(
        session=db.session,
        name=name,
        deployed_by=current_user.username,
        forms_dir=current_app.config["FORMS_DIR"],
    )
    db.session.commit()
    return jsonify(
        {"deployed": deployed, "used_by": service.form_detail(session=db.session, name=name)["used_by"]}
    )
