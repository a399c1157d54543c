"""Where business actions become audit records without touching every view (the pattern of
backend/webhooks/events.py): rows seen as they are flushed, and the registry's domain events.

- Host `event` rows with an actor: task completion (every approval decision is one), 退回, 撤回,
  process start, cancel, suspend/resume, variable change, migration, incident retry/resolve.
- `task_action` rows: 签收/退回签收/转办/委托/抄送/催办/加签/签署.
- `process_definition` rows: deploy.
- Configuration rows (inbound hooks, webhook subscriptions, API keys): create/change/delete.
- `registry.domain_event`: 批复 issued, payment released.
- Responses that are CSV/XLSX downloads: export.

Records made here are appended when the transaction that wrote the row they describe commits.
"""

import sqlalchemy as sa
from flask import request
from sqlalchemy import event as sa_event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from backend.audit import service
from backend.workflow import registry

HOST_EVENTS = {
    "started": "process.start",
    "task.completed": "task.complete",
    "task.returned": "task.return",
    "task.withdrawn": "task.withdraw",
    "cancelled": "instance.cancel",
    "suspended": "instance.suspend",
    "resumed": "instance.resume",
    "variable.changed": "instance.variable_change",
    "instance.migrated": "instance.migrate",
    "task.retried": "incident.retry",
    "incident.resolved": "incident.resolve",
}
DOMAIN_EVENTS = {"approval.issued": ("approval.issue", "approval_document", "document_number")}
DOMAIN_EVENTS["payment.released"] = ("payment.release", "payment", "payment_number")
EXPORT_MIMETYPES = {
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel",
}
# Secrets never go into the audit detail, only that they changed.
_SECRET_FIELDS = {"secret", "secret_hash", "key_hash", "token"}


def install(app) -> None:
    if not sa_event.contains(Session, "before_flush", _before_flush):
        sa_event.listen(Session, "before_flush", _before_flush)
    registry.on_domain_event(_domain_event)
    app.after_request(_audit_exports)


def _config_models():
    from backend.api.models import ApiKey
    from backend.webhooks.models import InboundHook, WebhookSubscription

    return {InboundHook: "inbound_hook", WebhookSubscription: "webhook_subscription", ApiKey: "api_key"}


def _user_of(session, username: str | None):
    """The User row of a username (the request's user when it is them). Actors such as
    "hook:<name>" or "timer" are the platform, not people (usernames have no ':')."""
    if not username or ":" in username:
        return None
    current = service._current_user()
    if current is not None and getattr(current, "username", None) == username:
        return current
    from backend.org.models import User

    row = (
        session.connection()
        .execute(sa.select(User.id, User.username).where(User.username == username))
        .first()
    )
    return row


def _write(session, action, *, username=None, user=None, **fields) -> None:
    if user is None and username:
        user = _user_of(session, username)
    entry = service.make_entry(action, user=user, username=username, **fields)
    service.queue(session, entry)


def _before_flush(session, _flush_context, _instances) -> None:
    from backend.tasks.models import TaskAction
    from backend.workflow.models import Event, ProcessDefinition, ProcessInstance

    config = None
    for obj in list(session.new):
        if isinstance(obj, Event) and obj.kind in HOST_EVENTS and obj.actor:
            instance = session.get(ProcessInstance, obj.instance_id)
            detail = {k: v for k, v in (obj.detail or {}).items() if k not in ("data", "payload")}
            detail.update(
                instance_id=obj.instance_id,
                process_key=instance.process_key if instance else None,
                business_key=instance.business_key if instance else None,
                element_id=obj.element_id,
            )
            if obj.kind == "task.completed" and obj.task_id:
                from backend.workflow.models import HumanTask

                task = session.get(HumanTask, obj.task_id)
                if task is not None:
                    detail["outcome"] = task.outcome
            is_task = obj.task_id is not None
            _write(
                session,
                HOST_EVENTS[obj.kind],
                username=obj.actor,
                object_type="task" if is_task else "process_instance",
                object_id=obj.task_id if is_task else obj.instance_id,
                detail=detail,
            )
        elif isinstance(obj, TaskAction):
            _write(
                session,
                f"task.{obj.action}",
                username=obj.actor,
                object_type="task",
                object_id=obj.task_id,
                detail={"instance_id": obj.instance_id, "target_user": obj.target_user, "reason": obj.reason},
            )
        elif isinstance(obj, ProcessDefinition):
            _write(
                session,
                "deploy",
                username=obj.deployed_by,
                object_type="process_definition",
                object_id=f"{obj.key}:{obj.version}",
                detail={"file_name": obj.file_name, "content_hash": obj.content_hash, "name": obj.name},
            )
        else:
            config = config or _config_models()
            if type(obj) in config:
                _config_change(session, obj, config[type(obj)], "create")
    if session.dirty or session.deleted:
        config = config or _config_models()
        for obj in list(session.dirty):
            if type(obj) in config and session.is_modified(obj):
                _config_change(session, obj, config[type(obj)], "update")
        for obj in list(session.deleted):
            if type(obj) in config:
                _config_change(session, obj, config[type(obj)], "delete")


def _config_change(session, obj, object_type: str, op: str) -> None:
    state = sa_inspect(obj)
    changed = sorted(attr.key for attr in state.attrs if attr.history.has_changes()) if op == "update" else []
    detail = {"op": op, "name": getattr(obj, "name", None) or getattr(obj, "url", None)}
    if changed:
        detail["fields"] = changed
        detail["secret_changed"] = any(f in _SECRET_FIELDS for f in changed)
    for flag in ("enabled", "revoked_at"):
        if flag in changed:
            detail[flag] = str(getattr(obj, flag))
    _write(
        session,
        "config.change",
        object_type=object_type,
        object_id=getattr(obj, "id", None) or detail["name"],
        detail=detail,
    )


def _domain_event(*, session, kind: str, data: dict) -> None:
    if kind not in DOMAIN_EVENTS:
        return
    action, object_type, key = DOMAIN_EVENTS[kind]
    entry = service.make_entry(action, object_type=object_type, object_id=data.get(key), detail=data)
    service.queue(session, entry)


def _audit_exports(response):
    """A CSV/XLSX download is an export: recorded after the request's own transaction ends."""
    if response.status_code != 200 or response.mimetype not in EXPORT_MIMETYPES:
        return response
    from backend.extensions import db

    entry = service.make_entry(
        "export",
        object_type="endpoint",
        object_id=request.endpoint,
        detail={
            "path": request.path,
            "query": request.args.to_dict(flat=True),
            "mimetype": response.mimetype,
        },
    )
    service.defer(db.session, entry)
    return response
