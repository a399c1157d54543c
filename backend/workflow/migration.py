"""迁移: move running instances of one process version onto a newer version.

The dry run (`plan`) says for every candidate instance whether it can move and, if not,
why (element id, name, message); it changes nothing. `migrate` moves those that can, each
under its row lock, and reports the others; nothing is half-moved because the engine proves
on a copy that the migrated state loads with the new version before anything is written.

What a move keeps: the ids of open tasks (inbox links keep working), their assignee,
candidate group and due time, the due times of waiting timers (running time limits are not
restarted) and message waits. What it takes from the new version: the steps after the
current ones, and the title, form and properties of the open tasks. A suspended instance
stays suspended; an instance with an incident keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from backend.engine import CannotMigrate, MigrationPlan, MigrationReason, TaskNotReady
from backend.workflow.errors import InstanceNotFound, ReasonRequired, WorkflowError
from backend.workflow.host import host_context, load_run, lock_instance, read_run, record, save, spec_json
from backend.workflow.models import HumanTask, ProcessDefinition, ProcessInstance

MOVABLE_STATES = ("running", "suspended", "incident")

# The engine's reasons, shown in the language of the page (lazy, as in workflow/errors.py);
# outside a request they read as the engine's Chinese text.
_REASON_TEXTS = {
    "active_missing": lambda label, _d: _l("当前停留的节点 %(label)s 在新版本中不存在", label=label),
    "type_changed": lambda label, _d: _l("当前停留的节点 %(label)s 在新版本中的类型已改变", label=label),
    "completed_removed": lambda label, _d: _l(
        "已完成的节点 %(label)s 在新版本中已删除, 其历史无法保留", label=label
    ),
    "cancelled_removed": lambda label, _d: _l(
        "已结束的节点 %(label)s 在新版本中已删除, 其历史无法保留", label=label
    ),
    "unaligned": lambda label, _d: _l("节点 %(label)s 无法对应到新版本", label=label),
    "subprocess_missing": lambda _label, detail: _l("子流程 %(name)s 在新版本中不存在", name=detail),
    "other_process": lambda _label, detail: _l("目标版本是另一个流程 (%(key)s), 不能迁移", key=detail),
    "diff_failed": lambda _label, detail: _l("无法比较两个版本: %(error)s", error=detail),
    "round_trip": lambda _label, detail: _l("迁移后的状态无法按新版本恢复: %(error)s", error=detail),
    "apply_failed": lambda _label, detail: _l("无法按新版本调整实例: %(error)s", error=detail),
    "state_changed": lambda _label, _d: _l("迁移会改变实例当前所处的步骤, 不能迁移"),
}


class MigrationNotAllowed(WorkflowError):
    """The versions given cannot be a migration (unknown, another process, not newer)."""

    def __init__(self, message, **data):
        super().__init__(message, **data)


@dataclass
class Reason:
    """Why an instance cannot move: the element it is about (may be empty) and the message."""

    element_id: str
    element_name: str
    message: object  # str, or a lazy string shown in the page's language


@dataclass
class InstanceMigration:
    instance_id: int
    business_key: str | None
    state: str
    active_elements: list[tuple[str, str]] = field(default_factory=list)  # (element id, name)
    reasons: list[Reason] = field(default_factory=list)
    changed_elements: list[str] = field(default_factory=list)

    @property
    def can_move(self) -> bool:
        return not self.reasons


@dataclass
class MigrationResult:
    source: ProcessDefinition
    target: ProcessDefinition
    moved: list[InstanceMigration] = field(default_factory=list)
    refused: list[InstanceMigration] = field(default_factory=list)


def versions(*, session, process_key: str) -> list[ProcessDefinition]:
    """Every deployed version of a process, oldest first."""
    return list(
        session.scalars(
            sa.select(ProcessDefinition).filter_by(key=process_key).order_by(ProcessDefinition.version)
        )
    )


def definitions(*, session, from_definition_id: int, to_definition_id: int):
    """The source and target versions; refused unless the target is a newer version of the same process."""
    source = session.get(ProcessDefinition, from_definition_id)
    target = session.get(ProcessDefinition, to_definition_id)
    if source is None or target is None:
        raise MigrationNotAllowed(_l("流程版本不存在"))
    if source.key != target.key:
        raise MigrationNotAllowed(
            _l("只能迁移到同一流程的新版本 (%(a)s 与 %(b)s 不是同一流程)", a=source.key, b=target.key)
        )
    if target.version <= source.version:
        raise MigrationNotAllowed(
            _l(
                "目标版本 v%(to)s 不比当前版本 v%(current)s 新, 只能迁移到更新的版本",
                to=target.version,
                current=source.version,
            )
        )
    return source, target


def plan(
    *, session, from_definition_id: int, to_definition_id: int, instance_ids: list[int] | None = None
) -> list[InstanceMigration]:
    """Dry run: every running, suspended or incident instance of the source version (or the
    ones asked for) with whether it can move and why not. Writes nothing."""
    source, target = definitions(
        session=session, from_definition_id=from_definition_id, to_definition_id=to_definition_id
    )
    ctx = host_context(session)
    new_spec = spec_json(session, target.id)
    result = []
    for instance in _candidates(session, source, instance_ids):
        entry = _refusal(instance, source)
        if entry is None:
            entry = _entry(instance, read_run(ctx, instance).plan_migration(new_spec))
        result.append(entry)
    return result


def migrate(
    *,
    session,
    from_definition_id: int,
    to_definition_id: int,
    actor: str,
    reason: str,
    instance_ids: list[int] | None = None,
) -> MigrationResult:
    """Move every instance that can move; the others are reported, not moved. Flushes, never commits."""
    if not (reason or "").strip():
        raise ReasonRequired()
    source, target = definitions(
        session=session, from_definition_id=from_definition_id, to_definition_id=to_definition_id
    )
    new_spec = spec_json(session, target.id)
    result = MigrationResult(source=source, target=target)
    ids = [i.id for i in _candidates(session, source, instance_ids)]
    for instance_id in sorted(ids):  # one lock order for every migration: no deadlock between two
        instance = lock_instance(session, instance_id)
        entry = _refusal(instance, source)
        if entry is not None:
            result.refused.append(entry)
            continue
        ctx = host_context(session, actor=actor)
        run = load_run(ctx, instance)
        try:
            outcome = run.migrate(new_spec)
        except CannotMigrate as refused:
            result.refused.append(_entry(instance, refused.plan))
            continue
        instance.definition = target
        record(
            session,
            instance,
            "instance.migrated",
            actor=actor,
            reason=reason.strip(),
            from_version=source.version,
            to_version=target.version,
            from_definition_id=source.id,
            to_definition_id=target.id,
            active_elements=[element for element, _name in outcome.active_elements],
        )
        save(ctx, instance, run, [], actor=actor)
        _refresh_open_tasks(session, instance, run)
        result.moved.append(_entry(instance, outcome))
    session.flush()
    return result


def _candidates(session, source: ProcessDefinition, instance_ids: list[int] | None) -> list[ProcessInstance]:
    query = sa.select(ProcessInstance).order_by(ProcessInstance.id)
    if instance_ids is None:
        query = query.where(
            ProcessInstance.definition_id == source.id, ProcessInstance.state.in_(MOVABLE_STATES)
        )
    else:
        query = query.where(ProcessInstance.id.in_(instance_ids))
    found = list(session.scalars(query))
    if instance_ids is not None and len(found) < len(set(instance_ids)):
        missing = sorted(set(instance_ids) - {i.id for i in found})
        raise InstanceNotFound(missing[0])
    return found


def _refusal(instance: ProcessInstance, source: ProcessDefinition) -> InstanceMigration | None:
    """An instance asked for by id that is not a running instance of the source version."""
    message = None
    if instance.definition_id != source.id:
        message = _l("流程实例不属于 %(key)s v%(version)s", key=source.key, version=source.version)
    elif instance.state == "completed":
        message = _l("流程实例已完成, 只能迁移运行中、已挂起或异常的实例")
    elif instance.state not in MOVABLE_STATES:
        message = _l("流程实例已取消, 只能迁移运行中、已挂起或异常的实例")
    if message is None:
        return None
    return InstanceMigration(
        instance_id=instance.id,
        business_key=instance.business_key,
        state=instance.state,
        reasons=[Reason("", "", message)],
    )


def _entry(instance: ProcessInstance, outcome: MigrationPlan) -> InstanceMigration:
    return InstanceMigration(
        instance_id=instance.id,
        business_key=instance.business_key,
        state=instance.state,
        active_elements=list(outcome.active_elements),
        reasons=[_reason(r) for r in outcome.reasons],
        changed_elements=list(outcome.changed_elements),
    )


def _reason(reason: MigrationReason) -> Reason:
    text = _REASON_TEXTS.get(reason.kind)
    if text is None:
        return Reason(reason.element_id, reason.element_name, reason.message)
    label = reason.element_id or ""
    if reason.element_name:
        label = f"「{reason.element_name}」({reason.element_id})"
    elif label:
        label = f"({label})"
    return Reason(reason.element_id, reason.element_name, text(label, reason.detail))


def _refresh_open_tasks(session, instance: ProcessInstance, run) -> None:
    """Open tasks keep their id, who has them and their due time; their title, form and
    properties now come from the new version (the form the next submission is checked against)."""
    rows = session.scalars(
        sa.select(HumanTask).filter_by(instance_id=instance.id, state="open", parent_task_id=None)
    )
    for row in rows:
        try:
            task = run.describe_user_task(row.id)
        except TaskNotReady:  # save() has just cancelled rows the engine no longer has
            continue
        row.element_id = task.element_id
        row.title = task.title
        row.form = task.properties.get("formJsonSchemaFilename") or row.form
        row.properties = task.properties
