"""Moving a running workflow onto a newer version of its process (cockpit 迁移).

SpiffWorkflow 3.2.0 aligns old and new task specs (`bpmn.util.diff`), but its
`migrate_workflow` resets READY and WAITING tasks: a reset clears `internal_data`, which
restarts timers (their due times live there), forgets which item a multi-instance child
works on, and replaces a task's data with its parent's (losing e.g. a 退回 note). So this
module aligns specs with the library's diff and then only *re-predicts* what has not been
reached yet: tasks that are running or waiting keep their id, data, internal data and
due times; the steps after them follow the new diagram. New boundary events of a step that
is already active apply only when the step is entered again.

Refused (each with element id, name and a Chinese message):
- an active element (ready, waiting, failed, running) whose id is not in the new version;
- an active element whose element type changed;
- a completed or cancelled element the new version removed (the saved state would name a
  spec the new version lacks and could never be restored);
- a subprocess the new version lacks;
- anything the round trip finds: the migrated state must dump and restore with the new spec.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.util.diff import diff_workflow
from SpiffWorkflow.util.task import TaskState

from backend.engine.serialization import SERIALIZER, dumps

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.ERROR | TaskState.STARTED
# Not reached yet: predictions from the diagram (FUTURE counts as "definite" in Spiff's masks).
UNREACHED = TaskState.FUTURE | TaskState.LIKELY | TaskState.MAYBE


@dataclass
class MigrationReason:
    element_id: str
    element_name: str
    message: str  # Chinese; `kind` and `detail` let the host show it in the page's language
    kind: str = ""
    detail: str = ""


@dataclass
class MigrationPlan:
    """What moving one workflow to a new version would do; `can_move` when nothing blocks it."""

    active_elements: list[tuple[str, str]] = field(default_factory=list)  # (id, name)
    reasons: list[MigrationReason] = field(default_factory=list)
    # Active elements whose definition differs in the new version (name, time limit, ...).
    changed_elements: list[str] = field(default_factory=list)

    @property
    def can_move(self) -> bool:
        return not self.reasons


class CannotMigrate(Exception):
    """The workflow cannot move to the new version; `plan.reasons` says why."""

    def __init__(self, plan: MigrationPlan):
        self.plan = plan
        super().__init__("; ".join(r.message for r in plan.reasons))


def copy_workflow(workflow):
    """An independent copy (own spec objects too) through the serializer, as a restore does."""
    state = json.loads(dumps(SERIALIZER.to_dict(workflow)))
    state["spec"] = json.loads(dumps(SERIALIZER.to_dict(workflow.spec)))
    state["subprocess_specs"] = {
        name: json.loads(dumps(SERIALIZER.to_dict(spec))) for name, spec in workflow.subprocess_specs.items()
    }
    return SERIALIZER.from_dict(state)


def migrate_copy(workflow, new_spec_json: str) -> tuple[MigrationPlan, object | None]:
    """Plan and apply the migration on `workflow` (pass a copy: it is changed even when
    refused). Returns the plan and, when it can move, the workflow restored from the migrated
    state with the new spec: what will be saved is proven to load."""
    plan = MigrationPlan()
    try:
        return plan, _migrate(plan, workflow, new_spec_json)
    except Exception as exc:  # a diagram shape the engine trips over: refused, never a crash
        error = f"{type(exc).__name__}: {exc}"
        plan.reasons.append(MigrationReason("", "", f"无法按新版本调整实例: {error}", "apply_failed", error))
        return plan, None


def _migrate(plan: MigrationPlan, workflow, new_spec_json: str):
    bundle = json.loads(new_spec_json)
    new_spec = SERIALIZER.from_dict(bundle["spec"])
    new_deps = {name: SERIALIZER.from_dict(s) for name, s in bundle["subprocess_specs"].items()}
    if new_spec.name != workflow.spec.name:
        plan.reasons.append(
            MigrationReason(
                new_spec.name,
                "",
                f"目标版本是另一个流程 ({new_spec.name}), 不能迁移",
                "other_process",
                new_spec.name,
            )
        )
        return None
    try:
        top_diff, sub_diffs = diff_workflow(SERIALIZER.registry, workflow, new_spec, new_deps)
    except Exception as exc:  # the library's diff walks the specs; a shape it misses must not crash
        error = f"{type(exc).__name__}: {exc}"
        plan.reasons.append(MigrationReason("", "", f"无法比较两个版本: {error}", "diff_failed", error))
        return None

    active_before = _active_states(workflow)
    parts = [(workflow, top_diff, new_spec)]
    for sp_id, sub in workflow.subprocesses.items():
        diff = sub_diffs.get(sp_id)
        if diff is None:
            owner = workflow.get_task_from_id(sp_id).task_spec
            plan.reasons.append(
                MigrationReason(
                    _element_id(owner),
                    _element_name(owner),
                    f"子流程 {sub.spec.name} 在新版本中不存在",
                    "subprocess_missing",
                    sub.spec.name,
                )
            )
            continue
        parts.append((sub, diff, new_deps[sub.spec.name]))

    for wf, diff, spec in parts:
        _check(plan, wf, diff, spec)
    if not plan.can_move:
        return None

    workflow.subprocess_specs = new_deps
    for wf, diff, spec in parts:
        wf.spec = spec
        for task in list(wf.tasks.values()):
            aligned = diff.alignment.get(task)
            if aligned is not None:
                task.task_spec = aligned
    for wf, _diff, _spec in parts:
        for task in [t for t in wf.tasks.values() if t.has_state(ACTIVE)]:
            _repredict(task)
        if wf.last_task is not None and wf.last_task.id not in wf.tasks:
            wf.last_task = None
    for wf, _diff, spec in parts:
        known = {id(s) for s in spec.task_specs.values()}
        for task in wf.tasks.values():
            if id(task.task_spec) not in known:
                plan.reasons.append(
                    MigrationReason(
                        _element_id(task.task_spec),
                        _element_name(task.task_spec),
                        f"节点 {_label(task.task_spec)} 无法对应到新版本",
                        "unaligned",
                    )
                )
    if not plan.can_move:
        return None

    try:
        state = json.loads(dumps(SERIALIZER.to_dict(workflow)))
        fresh = json.loads(new_spec_json)  # from_dict consumes the dicts it is given
        state["spec"] = fresh["spec"]
        state["subprocess_specs"] = fresh["subprocess_specs"]
        restored = SERIALIZER.from_dict(state)
        restored.get_tasks()  # walk the whole tree once: every task must find its spec and parent
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        plan.reasons.append(
            MigrationReason("", "", f"迁移后的状态无法按新版本恢复: {error}", "round_trip", error)
        )
        return None
    if _active_states(restored) != active_before or restored.is_completed():
        # A diagram shape this module does not handle: refuse rather than move it wrongly.
        plan.reasons.append(
            MigrationReason("", "", "迁移会改变实例当前所处的步骤, 不能迁移", "state_changed")
        )
        return None
    return restored


def _active_states(workflow) -> dict:
    """Task id -> state of everything running, ready, waiting or failed (a move keeps these)."""
    return {
        task.id: task.state
        for wf in (workflow, *workflow.subprocesses.values())
        for task in wf.tasks.values()
        if task.has_state(ACTIVE)
    }


def _check(plan: MigrationPlan, wf, diff, new_spec) -> None:
    changed = {task for task in diff.changed}
    for task in wf.tasks.values():
        spec = task.task_spec
        if task.has_state(ACTIVE):
            element = _element_id(spec)
            _note_active(plan, element, _element_name(spec))
            candidate = new_spec.task_specs.get(spec.name)
            if candidate is None:
                plan.reasons.append(
                    MigrationReason(
                        element,
                        _element_name(spec),
                        f"当前停留的节点 {_label(spec)} 在新版本中不存在",
                        "active_missing",
                    )
                )
            elif type(candidate) is not type(spec):
                plan.reasons.append(
                    MigrationReason(
                        element,
                        _element_name(spec),
                        f"当前停留的节点 {_label(spec)} 在新版本中的类型已改变",
                        "type_changed",
                    )
                )
            elif task in changed and element and element not in plan.changed_elements:
                plan.changed_elements.append(element)
        elif task.has_state(TaskState.FINISHED_MASK) and diff.alignment.get(task) is None:
            done = "已完成" if task.state == TaskState.COMPLETED else "已结束"
            plan.reasons.append(
                MigrationReason(
                    _element_id(spec),
                    _element_name(spec),
                    f"{done}的节点 {_label(spec)} 在新版本中已删除, 其历史无法保留",
                    "completed_removed" if task.state == TaskState.COMPLETED else "cancelled_removed",
                )
            )


def _note_active(plan: MigrationPlan, element: str, name: str) -> None:
    """One entry per element: a multi-instance step's children share its id (and lack its name)."""
    if not element:
        return
    for index, (known, known_name) in enumerate(plan.active_elements):
        if known == element:
            if name and not known_name:
                plan.active_elements[index] = (element, name)
            return
    plan.active_elements.append((element, name))


def _repredict(task) -> None:
    """Drop the predictions below an active task and predict again from the new diagram,
    without touching the task itself (unlike Task.reset_branch)."""
    dropped = [child for child in task.children if child.has_state(UNREACHED)]
    # What followed only possibly (e.g. the path of a boundary timer) stays only possible.
    possible_only = bool(dropped) and all(child.has_state(TaskState.PREDICTED_MASK) for child in dropped)
    for child in dropped:
        task.workflow._remove_task(child.id)
    if not task.children and task.has_state(TaskState.DEFINITE_MASK):
        task.task_spec._predict_hook(task)
    else:
        # A multi-instance step keeps its running children; only its successors are predicted.
        # A failed task (not "definite" to Spiff, whose hook would copy ERROR onto its
        # successors) gets the successors it had while it was ready.
        present = {child.task_spec for child in task.children}
        for spec in task.task_spec.outputs:
            if spec not in present:
                task._add_child(spec, TaskState.FUTURE)
    for child in task.children:
        if child.has_state(UNREACHED):
            if possible_only:
                child._set_state(TaskState.MAYBE)
            child.task_spec._predict(child, mask=UNREACHED)


def _element_id(spec) -> str:
    return getattr(spec, "bpmn_id", None) or ""


def _element_name(spec) -> str:
    return getattr(spec, "bpmn_name", None) or ""


def _label(spec) -> str:
    element, name = _element_id(spec) or spec.name, _element_name(spec)
    return f"「{name}」({element})" if name else f"({element})"
