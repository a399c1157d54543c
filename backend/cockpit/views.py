"""Cockpit pages (运维监控台): operators and admins only. Thin: queries in cockpit/service.py,
actions in workflow/service.py."""

import json
import logging
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from backend.authz import forbidden, has_permission
from backend.authz.scope import instance_clause, scope_of, sees_instance
from backend.cockpit import service
from backend.crypto.fields import mask_sensitive
from backend.extensions import db
from backend.workflow import migration
from backend.workflow import service as workflow
from backend.workflow.errors import WorkflowError
from backend.workflow.host import record
from backend.workflow.models import Incident, ProcessInstance

bp = Blueprint("cockpit", __name__, url_prefix="/cockpit", template_folder="templates")
log = logging.getLogger("backend.cockpit")


@bp.app_template_filter("cockpit_json")
def cockpit_json(value, indent: int | None = None) -> str:
    """JSON as people read it: Chinese as is, not \\u escapes (autoescaping still applies);
    personal data (phone, ID card, bank account) masked."""
    return json.dumps(mask_sensitive(value), ensure_ascii=False, indent=indent, default=str)


@bp.before_request
@login_required
def _operators_only():
    # Reading needs "cockpit.read"; every action (POST) "cockpit.operate".
    needed = "cockpit.read" if request.method in ("GET", "HEAD") else "cockpit.operate"
    if not has_permission(current_user, needed):
        return forbidden()


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@bp.get("/instances")
def instances():
    args = request.args
    filters = service.InstanceFilter(
        process_key=args.get("process_key") or None,
        version=_int(args.get("version")),
        state=args.get("state") if args.get("state") in service.STATES else None,
        business_key=(args.get("business_key") or "").strip() or None,
        started_from=_date(args.get("started_from")),
        started_to=_date(args.get("started_to")),
    )
    scope = scope_of(current_user)
    page = service.list_instances(
        session=db.session,
        filters=filters,
        before=_int(args.get("before")),
        scope=None if scope.all else instance_clause(scope),
    )
    return render_template(
        "cockpit/instances.html",
        page=page,
        filters=filters,
        states=service.STATES,
        process_keys=service.process_keys(session=db.session),
    )


@bp.get("/instances/<int:instance_id>")
def instance(instance_id: int):
    view = service.instance_view(session=db.session, instance_id=instance_id)
    if view is None:
        abort(404)
    if not sees_instance(current_user, view.instance):  # out of scope: as if it did not exist
        abort(404)
    diagram = {"xml": view.instance.definition.source_xml, "highlights": view.highlights}
    history = service.history(
        session=db.session, instance_id=instance_id, before=_int(request.args.get("history_before"))
    )
    return render_template("cockpit/instance.html", view=view, diagram=diagram, history=history)


def _act(instance_id: int, action: str, do):
    """Run one repair action as the unit of work: audited, logged, committed or refused."""
    reason = (request.form.get("reason") or "").strip()
    try:
        do(reason)
    except WorkflowError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("cockpit.instance", instance_id=instance_id))
    log.info(
        "cockpit action %s on instance %s by %s: %s",
        action,
        instance_id,
        current_user.username,
        reason,
        extra={"instance_id": instance_id, "actor": current_user.username},
    )
    db.session.commit()
    flash(_("操作已完成"), "success")
    return redirect(url_for("cockpit.instance", instance_id=instance_id))


def _instance_or_404(instance_id: int) -> ProcessInstance:
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None or not sees_instance(current_user, instance):  # data scope
        abort(404)
    return instance


@bp.post("/instances/<int:instance_id>/incidents/<int:incident_id>/retry")
def retry(instance_id: int, incident_id: int):
    instance = _instance_or_404(instance_id)
    incident = db.session.get(Incident, incident_id)
    if incident is None or incident.instance_id != instance.id:
        abort(404)

    def do(reason):
        workflow.retry_incident(session=db.session, incident_id=incident_id, actor=current_user.username)
        record(
            db.session,
            instance,
            "operator.retried",
            task_id=incident.task_id,
            element_id=incident.element_id,
            actor=current_user.username,
            incident_id=incident_id,
            reason=reason,
        )

    return _act(instance_id, "retry", do)


@bp.post("/instances/<int:instance_id>/cancel")
def cancel(instance_id: int):
    _instance_or_404(instance_id)

    def do(reason):
        if not reason:
            raise WorkflowError(_("请填写取消原因"))
        workflow.cancel_instance(
            session=db.session, instance_id=instance_id, actor=current_user.username, reason=reason
        )

    return _act(instance_id, "cancel", do)


@bp.post("/instances/<int:instance_id>/suspend")
def suspend(instance_id: int):
    _instance_or_404(instance_id)
    return _act(
        instance_id,
        "suspend",
        lambda reason: workflow.suspend_instance(
            session=db.session, instance_id=instance_id, actor=current_user.username, reason=reason
        ),
    )


@bp.post("/instances/<int:instance_id>/resume")
def resume(instance_id: int):
    _instance_or_404(instance_id)
    return _act(
        instance_id,
        "resume",
        lambda reason: workflow.resume_instance(
            session=db.session, instance_id=instance_id, actor=current_user.username, reason=reason
        ),
    )


@bp.post("/instances/<int:instance_id>/variables")
def set_variable(instance_id: int):
    _instance_or_404(instance_id)

    def do(reason):
        try:
            value = json.loads(request.form.get("value", ""))
        except ValueError:
            raise WorkflowError(_('变量值须为合法的 JSON, 例如 100、"文字"、true 或 {"a": 1}')) from None
        workflow.set_instance_variable(
            session=db.session,
            instance_id=instance_id,
            name=request.form.get("name", ""),
            value=value,
            actor=current_user.username,
            reason=reason,
        )

    return _act(instance_id, "set_variable", do)


# -- 迁移到新版本 (version migration) -------------------------------------------------------
def _migration_versions(values):
    """The process, its versions, the source and the target picked in `values` (query or form);
    the target defaults to the newest version after the source."""
    key = (values.get("key") or "").strip() or None
    versions = migration.versions(session=db.session, process_key=key) if key else []
    by_number = {d.version: d for d in versions}
    source = by_number.get(_int(values.get("from")))
    targets = [d for d in versions if source is not None and d.version > source.version]
    target = by_number.get(_int(values.get("to")))
    if target not in targets:
        target = targets[-1] if targets else None
    return key, versions, source, targets, target


@bp.get("/migrate")
def migrate_page():
    key, versions, source, targets, target = _migration_versions(request.args)
    instance_id = _int(request.args.get("instance"))
    rows, error = None, None
    if source is not None and target is not None:
        try:
            rows = migration.plan(
                session=db.session,
                from_definition_id=source.id,
                to_definition_id=target.id,
                instance_ids=[instance_id] if instance_id else None,
            )
        except WorkflowError as exc:
            error = str(exc)
    return render_template(
        "cockpit/migrate.html",
        process_keys=service.process_keys(session=db.session),
        key=key,
        versions=versions,
        source=source,
        targets=targets,
        target=target,
        instance_id=instance_id,
        rows=rows,
        error=error,
        result=None,
    )


@bp.post("/migrate")
def migrate_instances():
    form = request.form
    key, versions, source, targets, target = _migration_versions(form)
    instance_id = _int(form.get("instance"))
    back = url_for(
        "cockpit.migrate_page",
        key=key,
        **{"from": source.version if source else None, "to": target.version if target else None},
        instance=instance_id,
    )
    ids = sorted({i for i in (_int(v) for v in form.getlist("instance_ids")) if i})
    if source is None or target is None:
        flash(_("请选择流程、当前版本和目标版本"), "danger")
        return redirect(back)
    if not ids:
        flash(_("请选择要迁移的流程实例"), "danger")
        return redirect(back)
    reason = (form.get("reason") or "").strip()
    try:
        result = migration.migrate(
            session=db.session,
            from_definition_id=source.id,
            to_definition_id=target.id,
            actor=current_user.username,
            reason=reason,
            instance_ids=ids,
        )
    except WorkflowError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(back)
    log.info(
        "cockpit migrated %s v%s -> v%s by %s: moved %s, refused %s: %s",
        key,
        source.version,
        target.version,
        current_user.username,
        [m.instance_id for m in result.moved],
        [m.instance_id for m in result.refused],
        reason,
        extra={"actor": current_user.username},
    )
    db.session.commit()
    return render_template(
        "cockpit/migrate.html",
        process_keys=service.process_keys(session=db.session),
        key=key,
        versions=versions,
        source=source,
        targets=targets,
        target=target,
        instance_id=instance_id,
        rows=None,
        error=None,
        result=result,
    )
